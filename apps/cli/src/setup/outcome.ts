/** The result of one setup check: what was found, and when it failed, how to fix it. */
export interface CheckOutcome {
  ok: boolean;
  title: string;
  detail: string;
  /** What the operator should do about a failure. */
  fix?: string;
  /** Worth saying but not a reason to stop (an API not started yet during a first setup). */
  warning?: boolean;
}

export function passed(title: string, detail: string): CheckOutcome {
  return { ok: true, title, detail };
}

export function failed(title: string, detail: string, fix: string): CheckOutcome {
  return { ok: false, title, detail, fix };
}

/** An error's own message, never its stack: messages of our clients carry no secrets. */
export function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}
