// A child's stdout/stderr into portwake's log, one line per log entry, prefixed with the service's
// name; the last lines are kept for error messages. A line longer than MAX_LINE is cut into pieces,
// so a process that never writes a newline cannot grow portwake's memory.

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from '../../core/logger.ts';

export const MAX_LINE = 16 * 1024;
const KEEP_LINES = 5;

export type LogLevel = 'info' | 'debug';

export class OutputLines {
  /** The last few lines written to stderr (or stdout when stderr had none), for error messages. */
  private readonly tail: string[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly prefix: string,
    private readonly level: LogLevel,
    private readonly fields: Record<string, unknown> = {},
  ) {}

  /** Follows one stream until it ends; never throws. */
  follow(stream: Readable | null, name: 'stdout' | 'stderr'): void {
    if (stream === null) return;
    const decoder = new StringDecoder('utf8');
    let pending = '';
    const emit = (line: string): void => {
      const text = line.endsWith('\r') ? line.slice(0, -1) : line;
      this.tail.push(text);
      if (this.tail.length > KEEP_LINES) this.tail.shift();
      this.logger[this.level]({ ...this.fields, stream: name }, `${this.prefix}: ${text}`);
    };
    stream.on('data', (chunk: Buffer) => {
      pending += decoder.write(chunk);
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        emit(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      while (pending.length > MAX_LINE) {
        emit(pending.slice(0, MAX_LINE));
        pending = pending.slice(MAX_LINE);
      }
    });
    stream.on('end', () => {
      pending += decoder.end();
      if (pending !== '') emit(pending);
      pending = '';
    });
    // A pipe error (the child went away) ends the output; nothing else to do.
    stream.on('error', () => undefined);
  }

  /** The last line written, for an error message; '' when there was none. */
  lastLine(): string {
    for (let i = this.tail.length - 1; i >= 0; i--) {
      const line = this.tail[i]?.trim() ?? '';
      if (line !== '') return line;
    }
    return '';
  }
}
