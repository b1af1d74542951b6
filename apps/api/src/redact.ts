/**
 * What a reader who did not write a lab or VM may see of its provisioning. The installer already
 * keeps commands and guest output out of public errors (they go to private events); as a second
 * wall, any provisioning text of the spec that still shows up in an error, step or event (rows
 * written before, or by paths that quote a command) is masked for everyone but admins and the key
 * that created the resource.
 */
import type { Principal } from './auth/keys';

/** Shorter texts are not masked: they would match ordinary words in messages. */
const MIN_MASKED_LENGTH = 4;
/** Single words of a command shorter than this stay (they are ordinary words: `echo`, `sudo`). */
const MIN_MASKED_WORD = 6;
const MASK = '[provisioning text hidden]';

/** Whether `principal` may read the private side (full logs) of a resource that `createdBy` made. */
export function seesPrivate(principal: Principal, createdBy: string | null | undefined): boolean {
  return principal.role === 'admin' || (createdBy !== null && createdBy !== undefined && principal.keyId === createdBy);
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The provisioning texts of one VM spec (stored or as in a lab spec): commands and file contents. */
function textsOfVm(vm: Record<string, unknown>, into: Set<string>): void {
  const cloudInit = record(vm.cloudInit);
  for (const command of Array.isArray(cloudInit?.runcmd) ? cloudInit.runcmd : []) {
    if (typeof command === 'string') into.add(command);
  }
  for (const step of Array.isArray(vm.provision) ? vm.provision : []) {
    const entry = record(step);
    if (typeof entry?.run === 'string') into.add(entry.run);
    const file = record(entry?.file);
    if (typeof file?.content === 'string') into.add(file.content);
  }
}

/** Every provisioning text in a stored VM spec or a lab spec (its `vms`). */
export function provisioningTexts(...specs: unknown[]): string[] {
  const texts = new Set<string>();
  for (const spec of specs) {
    const object = record(spec);
    if (!object) continue;
    textsOfVm(object, texts);
    for (const vm of Array.isArray(object.vms) ? object.vms : []) {
      const entry = record(vm);
      if (entry) textsOfVm(entry, texts);
    }
  }
  // Longest first, so a command containing another is masked whole. Each line of a multi-line text
  // is masked too: errors quote the line that failed.
  const pieces = new Set<string>();
  for (const text of texts) {
    pieces.add(text.trim());
    for (const line of text.split('\n')) pieces.add(line.trim());
    // Each longer word too (a password given on a command line comes back in the guest's complaint
    // about it), and every quoted string.
    for (const word of text.split(/[\s|;&<>()'"`=]+/)) if (word.length >= MIN_MASKED_WORD) pieces.add(word);
    for (const quoted of text.matchAll(/'([^']+)'|"([^"]+)"/g)) pieces.add((quoted[1] ?? quoted[2])!);
  }
  return [...pieces].filter((piece) => piece.length >= MIN_MASKED_LENGTH).sort((a, b) => b.length - a.length);
}

/** Masks provisioning texts in what a reader sees; the identity when the reader may see everything. */
export class Redactor {
  static readonly none = new Redactor([]);

  constructor(private readonly texts: readonly string[]) {}

  text<T extends string | null | undefined>(value: T): T {
    if (!value || this.texts.length === 0) return value;
    let masked: string = value;
    for (const text of this.texts) if (masked.includes(text)) masked = masked.split(text).join(MASK);
    return masked as T;
  }

  /** Every string inside a JSON value, masked. */
  json<T>(value: T): T {
    if (this.texts.length === 0) return value;
    if (typeof value === 'string') return this.text(value) as T;
    if (Array.isArray(value)) return value.map((item) => this.json(item)) as T;
    const object = record(value);
    if (!object) return value;
    return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, this.json(item)])) as T;
  }
}

/** The redactor for a reader of a resource `createdBy` made from these specs. */
export function redactorFor(principal: Principal, createdBy: string | null | undefined, ...specs: unknown[]): Redactor {
  return seesPrivate(principal, createdBy) ? Redactor.none : new Redactor(provisioningTexts(...specs));
}
