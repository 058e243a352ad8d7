// MAAS's naming rules for what the config names (docs/domain.md, "MAAS"): the maas CLI's profiles, tags, system
// IDs, resource pools and zones, and its API keys. Pure data.

/** The maas CLI's own commands: a profile of that name would never be reached (`maas login ...`). */
export const MAAS_CLI_COMMANDS = ["login", "logout", "list", "refresh", "init", "apikey", "configauth", "createadmin", "changepassword"];

/** A maas CLI profile name as this program takes it: a shell word (letters, digits, _ . -). */
export const MAAS_PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** MAAS tag names: canonical/maas src/maasserver/models/tag.py. */
export const MAAS_TAG_NAME = /^[a-zA-Z0-9_-]+$/;

/** MAAS system IDs as the config lists them: lowercase letters and digits. */
export const MAAS_SYSTEM_ID = /^[a-z0-9]{1,32}$/;

/** MAAS resource pool and zone names: canonical/maas src/maasserver/fields.py MODEL_NAME_VALIDATOR
 * (`^\w[ \w-]*$`, Python's Unicode \w), used by models/resourcepool.py and models/zone.py. */
export const MAAS_OBJECT_NAME = /^[\p{L}\p{N}_][ \p{L}\p{N}_-]*$/u;

/** A MAAS API key, `consumer:token:secret` (canonical/maas src/apiclient/creds.py convert_string_to_tuple). */
export const MAAS_API_KEY = /^[A-Za-z0-9]+:[A-Za-z0-9]+:[A-Za-z0-9]+$/;
