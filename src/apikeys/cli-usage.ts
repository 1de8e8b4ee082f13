// The usage text of `portcullis apikeys`, apart from the command so that `portcullis help` can
// print it without loading the API key service.
export const APIKEYS_USAGE = `  apikeys create --owner user:EMAIL|client:ID --name NAME [--scopes "a b"] [--level LOW|MEDIUM|HIGH|CRITICAL]
                 [--expires-in 30d] [--allow-ip CIDR]... [--rate-limit N] [--signing hmac-sha256 | --public-key FILE]
                             issue an API key; the key (and signing secret) are printed once
  apikeys list [--owner user:EMAIL|client:ID]
  apikeys rotate ID [--grace 24h]
                             issue a successor; the old key works for the grace period
  apikeys revoke ID`
