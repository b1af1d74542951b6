import type { listLabs, ShownVm } from '@glassdome/db';
import type { Principal } from './auth/keys';
import { JsonText } from './json';
import { Redactor, redactorFor, seesPrivate } from './redact';

/**
 * A time as read: a Date, or the same instant as the text JSON prints for it (the VM, lab and alert
 * lists read their times so). Either way the answer carries the same text.
 */
type Time = Date | string;

/**
 * Steps as the API shows them (JSON text Postgres writes) with their errors masked for the reader:
 * an error is the one field that can quote provisioning text. Most readers see everything and most
 * steps have no error, so the text is parsed only when one has and the reader's view masks.
 */
export function stepsForReader(steps: string, redactor: Redactor): JsonText {
  if (redactor === Redactor.none || !steps.includes('"error":')) return new JsonText(steps);
  const shown = JSON.parse(steps) as { error?: string }[];
  maskStepErrors(shown, redactor);
  return new JsonText(JSON.stringify(shown));
}

function maskStepErrors(steps: { error?: string }[], redactor: Redactor): void {
  for (const step of steps) if (step.error !== undefined) step.error = redactor.text(step.error);
}

/**
 * A VM as the API shows it: the JSON text Postgres writes (`ShownVm`, where its shape is defined),
 * put into the answer as it is (answer with `sendJson`), its errors masked for the reader. An error
 * (the VM's, or a step's) is the one field that can quote provisioning text; a VM has `spec` only
 * when it has one. `reader`: the redactor of the lab whose VM it is, or the principal reading a
 * standalone VM (whose creator and spec then decide, `redactorFor`). Most readers see everything and
 * most VMs have no error, so the text is parsed only when one has and the reader's view masks.
 */
export function presentVm(vm: ShownVm, reader: Redactor | Principal): JsonText {
  if (vm.spec === null) return new JsonText(vm.shown);
  const redactor =
    reader instanceof Redactor
      ? reader
      : seesPrivate(reader, vm.created_by)
        ? Redactor.none
        : redactorFor(reader, vm.created_by, JSON.parse(vm.spec));
  if (redactor === Redactor.none) return new JsonText(vm.shown);
  const shown = JSON.parse(vm.shown) as { error: string | null; steps: { error?: string }[] };
  shown.error = redactor.text(shown.error);
  maskStepErrors(shown.steps, redactor);
  return new JsonText(JSON.stringify(shown));
}

/** A lab as read: its times as Dates (a lab's detail) or as the text JSON prints for them (the list, listLabs). */
type LabRow = Omit<
  Awaited<ReturnType<typeof listLabs>>['items'][number],
  'expires_at' | 'created_at' | 'updated_at'
> & {
  expires_at: Time | null;
  created_at: Time;
  updated_at: Time;
};

/** A lab's own fields as the API shows them, in lists and in detail. */
export function presentLab(lab: LabRow, redactor: Redactor = Redactor.none) {
  return {
    id: lab.id,
    name: lab.name,
    project: lab.project,
    status: lab.status,
    copies: lab.copies,
    onFailure: lab.on_failure,
    expiresAt: lab.expires_at,
    error: redactor.text(lab.error),
    createdAt: lab.created_at,
    updatedAt: lab.updated_at,
  };
}
