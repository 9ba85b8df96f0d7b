// Types of scripts/setup.mjs for the tests that import its decision logic.

export interface Requirement {
  package: string;
  /** Other Debian packages that provide the same (docker-ce for docker.io, nginx-full for nginx-light). */
  satisfiedBy?: string[];
  why: string;
}

export type Purpose = 'demo' | 'tests';

export const REQUIREMENTS: Record<Purpose, Requirement[]>;

export interface Facts {
  /** The installed packages among the candidates; undefined when there is no dpkg-query. */
  installed: Set<string> | undefined;
  root: boolean;
  /** /etc/os-release names debian or ubuntu and apt-get runs. */
  debianLike: boolean;
  /** apt has package lists (else it must `apt-get update` first). */
  aptLists: boolean;
}

export type Decision =
  | { kind: 'ready' }
  | { kind: 'install'; packages: string[]; update: boolean }
  | { kind: 'tell'; packages: string[]; command: string | undefined; message: string };

export function plan(purpose: Purpose, facts: Facts): Decision;

export function installedPackages(names: string[]): Set<string> | undefined;
