/* secret.h — passwords and keys kept out of the config file.
 *
 * A secret in the config (redis.password, or a kafka.properties value) is either written
 * out, or a one-key mapping that says where to read it:
 *
 *   password: {file: /etc/churnwatch/redis.pw}   a file; trailing newlines are dropped;
 *                                                a relative path is taken from the
 *                                                directory of the config file
 *   password: {env: REDIS_PASSWORD}              an environment variable
 *   password: {credential: redis.pw}             $CREDENTIALS_DIRECTORY/redis.pw, a
 *                                                systemd credential (LoadCredential=)
 *
 * An empty secret is an error wherever it comes from. config.c reports the errors with
 * the file, line and column of the key; the messages written here say what went wrong and
 * never contain the secret itself. */
#ifndef CW_SECRET_H
#define CW_SECRET_H

#include <stdbool.h>
#include <stddef.h>

enum secret_source { SECRET_FILE, SECRET_ENV, SECRET_CREDENTIAL };

#define SECRET_MAX_BYTES (1u << 20) /* larger secret files are refused */
#define SECRET_MASK "(hidden)"      /* printed in place of a sensitive value */

/* "file", "env", "credential" -> 0 and *out; anything else -1. */
int secret_source_parse(const char *name, enum secret_source *out);
const char *secret_source_name(enum secret_source src);

/* Reads the secret named `ref` from `src`. A relative SECRET_FILE path is taken from the
 * directory of `config_path` (may be NULL: the working directory). Returns the secret
 * (owned by the caller, who releases it with secret_free) or NULL with the reason in
 * `err` (which never holds the secret). */
char *secret_resolve(enum secret_source src, const char *ref, const char *config_path, char *err,
                     size_t err_len);

/* Overwrites and frees a secret; accepts NULL. */
void secret_free(char *secret);

/* True for a librdkafka property whose value must not be shown: its name contains
 * "password" or "secret" (any case), or it is a private key or an OAUTHBEARER
 * configuration (ssl.key.pem, sasl.oauthbearer.config). */
bool secret_key_is_sensitive(const char *key);

/* `value`, or SECRET_MASK when `key` is sensitive: for anything that prints properties. */
const char *secret_mask(const char *key, const char *value);

#endif
