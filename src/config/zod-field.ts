// Glue between the pure field parsers (Parsed<T>) and zod: a field schema that reports the parser's
// message, and re-reporting a nested parse's issues under the current path.

import { z } from 'zod';
import type { IssueAnchor } from './locator.ts';
import type { Parsed } from './parsed.ts';

type Ctx = z.core.$RefinementCtx<unknown>;

/** A schema accepting any input that parse() accepts, with parse()'s message as the issue. */
export function field<T>(parse: (value: unknown) => Parsed<T>): z.ZodType<T, unknown> {
  return z.unknown().transform((value, ctx): T => {
    const result = parse(value);
    if (result.ok) return result.value;
    ctx.issues.push({ code: 'custom', message: result.message, input: value });
    return z.NEVER;
  });
}

/** Runs a nested schema and forwards its issues (paths relative to here); undefined when it failed. */
export function delegate<T>(schema: z.ZodType<T>, value: unknown, ctx: Ctx, path: PropertyKey[] = []): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    ctx.issues.push({ ...issue, input: undefined, path: [...path, ...issue.path] });
  }
  return undefined;
}

/** Reports one message at a path relative to here; `at` travels in the issue's params. */
export function report(ctx: Ctx, message: string, path: PropertyKey[] = [], at: IssueAnchor = 'value'): void {
  ctx.issues.push({ code: 'custom', message, input: undefined, path, params: { at } });
}

export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
