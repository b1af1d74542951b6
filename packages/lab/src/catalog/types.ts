import type { ParameterDeclaration } from '../exercise/parameters';
import type { LabSpecInput } from '../spec/lab-schema';

/** A built-in lab: deploy it by id, or start from its spec. */
export interface LabCatalogEntry {
  /** Stable id, also the spec's name. */
  id: string;
  title: string;
  /** What trainees do in it, for the catalog listing. */
  description: string;
  spec: LabSpecInput;
  /** Which VMs trainees log into (their keys go there) and narrower size bounds, for deploys with parameters. */
  parameters?: ParameterDeclaration;
}
