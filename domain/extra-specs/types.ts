// The shape of Nova's flavor extra-spec registry, as nova/api/validation/extra_specs/base.py ExtraSpecValidator
// holds it: what the generated table (zed.ts) is made of and the per-release registry (releases.ts) reads.
// Pure types.

/** A name parameter of a validator, e.g. `{group}` in `resources{group}:VCPU` (base.py `parameters`). */
export interface ExtraSpecParameter {
  readonly name: string;
  /** Python regex the parameter matches. */
  readonly pattern: string;
}

/** The checked part of a validator's value (base.py ExtraSpecValidator.validate). */
export interface ExtraSpecValue {
  readonly type: "int" | "str" | "bool";
  readonly enum?: readonly string[];
  /** Python regex the whole value must match (str only). */
  readonly pattern?: string;
  readonly min?: number;
  readonly max?: number;
}

/** One registered validator, as nova.api.validation.extra_specs.base.ExtraSpecValidator holds it. */
export interface ExtraSpecValidator {
  /** Name with `{parameter}` placeholders, e.g. `hw:numa_cpus.{num}`. */
  readonly name: string;
  readonly parameters?: readonly ExtraSpecParameter[];
  readonly value: ExtraSpecValue;
  readonly deprecated?: boolean;
}
