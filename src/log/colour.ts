// Whether text written somewhere may carry ANSI colour: only to a terminal, and never with NO_COLOR
// (set to anything but "", as no-color.org has it) or TERM=dumb. Logs, the CLI's tables and the
// demo all ask here, so a redirect into a file never holds escape sequences.

export function colourWanted(isTTY: boolean | undefined, env: Readonly<Record<string, string | undefined>>): boolean {
  const noColor = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '';
  return isTTY === true && !noColor && env['TERM'] !== 'dumb';
}
