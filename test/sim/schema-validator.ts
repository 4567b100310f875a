/**
 * Ajv (draft 2020-12, with formats) for checking the simulator's structured output in tests.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Returns undefined when `value` validates against `schema`, else Ajv's error text. */
export function validationErrors(schema: object | boolean, value: unknown): string | undefined {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  return validate(value) ? undefined : ajv.errorsText(validate.errors);
}
