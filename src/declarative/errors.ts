import type { ErrorCatalogue } from '../errors.ts'

/** The declarative import file (`portcullis import`). */
export const DECLARATIVE_ERRORS = {
  import_unreadable: { status: 400, meaning: 'the import file cannot be read or parsed' },
  import_invalid: { status: 400, meaning: 'the import file is not valid (`details` lists every problem)' },
} as const satisfies ErrorCatalogue
