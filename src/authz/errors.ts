import type { ErrorCatalogue } from '../errors.ts'

/** Policy stores, decisions and policy tests. */
export const AUTHZ_ERRORS = {
  invalid_name: { status: 400, meaning: 'a policy store name is not 1-64 lowercase letters, digits, _ and -' },
  unknown_model: { status: 400, meaning: 'no such model file in policies/' },
  invalid_model: { status: 400, meaning: 'the model is neither a shipped file nor valid Casbin model text' },
  invalid_policy: { status: 400, meaning: 'the policy is not valid CSV for the model (`details` lists problems)' },
  invalid_options: { status: 400, meaning: 'the store options are not valid' },
  unknown_line: { status: 400, meaning: 'a line to remove is not in the policy' },
  search_unsupported: { status: 400, meaning: 'the store’s model gives no finite list of values to search' },
  reserved_store: { status: 403, meaning: 'the store is managed by portcullis (e.g. `system`): change it another way' },
  store_exists: { status: 409, meaning: 'a policy store with this name already exists' },
  version_conflict: { status: 409, meaning: 'the store changed since the version the change was based on' },
  unreadable: { status: 400, meaning: 'CLI: a policy test file cannot be read' },
  invalid_file: { status: 400, meaning: 'CLI: a policy test file is not valid' },
} as const satisfies ErrorCatalogue
