/* secret.c — see secret.h. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const source_names[] = {
    [SECRET_FILE] = "file",
    [SECRET_ENV] = "env",
    [SECRET_CREDENTIAL] = "credential",
};

int secret_source_parse(const char *name, enum secret_source *out)
{
    for (size_t i = 0; i < sizeof source_names / sizeof source_names[0]; i++) {
        if (strcmp(name, source_names[i]) == 0) {
            *out = (enum secret_source)i;
            return 0;
        }
    }
    return -1;
}

const char *secret_source_name(enum secret_source src)
{
    return (size_t)src < sizeof source_names / sizeof source_names[0] ? source_names[src] : "?";
}

void secret_free(char *secret)
{
    if (secret == NULL)
        return;
    explicit_bzero(secret, strlen(secret));
    free(secret);
}

/* Reads the regular file `path` whole. `what` names it in messages ("secret file X",
 * "credential X"). Returns the content, trailing CR/LF removed (owned, secret_free), or
 * NULL with err filled. */
static char *read_secret_file(const char *path, const char *what, char *err, size_t err_len)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0, size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0) {
        snprintf(err, err_len, "cannot read %s: %s", what, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        snprintf(err, err_len, "cannot read %s: %s", what, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s is not a regular file", what);
        goto fail;
    }
    if (st.st_size > (off_t)SECRET_MAX_BYTES) {
        snprintf(err, err_len, "%s is larger than %u bytes", what, SECRET_MAX_BYTES);
        goto fail;
    }
    size = (size_t)st.st_size + 1;
    buf = malloc(size);
    if (buf == NULL) {
        snprintf(err, err_len, "cannot read %s: out of memory", what);
        goto fail;
    }
    /* The size may change under us: read what is there, up to the size seen. */
    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_len, "cannot read %s: %s", what, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    fd = -1;
    if (memchr(buf, '\0', len) != NULL) {
        snprintf(err, err_len, "%s contains a NUL byte", what);
        goto fail;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (len == 0) {
        snprintf(err, err_len, "%s is empty", what);
        goto fail;
    }
    return buf;
fail:
    if (fd >= 0)
        close(fd);
    if (buf != NULL) {
        explicit_bzero(buf, size);
        free(buf);
    }
    return NULL;
}

static char *resolve_file(const char *ref, const char *config_path, char *err, size_t err_len)
{
    const char *slash = config_path != NULL ? strrchr(config_path, '/') : NULL;
    char what[4200], *path = NULL, *secret;

    if (ref[0] != '/' && slash != NULL) {
        size_t dir = (size_t)(slash - config_path) + 1;
        path = malloc(dir + strlen(ref) + 1);
        if (path == NULL) {
            snprintf(err, err_len, "out of memory");
            return NULL;
        }
        memcpy(path, config_path, dir);
        strcpy(path + dir, ref);
    }
    snprintf(what, sizeof what, "secret file %s", path != NULL ? path : ref);
    secret = read_secret_file(path != NULL ? path : ref, what, err, err_len);
    free(path);
    return secret;
}

static char *resolve_env(const char *name, char *err, size_t err_len)
{
    const char *v;
    char *copy;

    if (strchr(name, '=') != NULL) {
        snprintf(err, err_len, "\"%s\" is not an environment variable name", name);
        return NULL;
    }
    v = getenv(name);
    if (v == NULL) {
        snprintf(err, err_len, "environment variable %s is not set", name);
        return NULL;
    }
    if (v[0] == '\0') {
        snprintf(err, err_len, "environment variable %s is empty", name);
        return NULL;
    }
    copy = strdup(v);
    if (copy == NULL)
        snprintf(err, err_len, "out of memory");
    return copy;
}

static char *resolve_credential(const char *name, char *err, size_t err_len)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    char path[4200], what[4300];

    if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        snprintf(err, err_len, "\"%s\" is not a credential name (no \"/\", not . or ..)", name);
        return NULL;
    }
    if (dir == NULL || dir[0] == '\0') {
        snprintf(err, err_len,
                 "credential %s: $CREDENTIALS_DIRECTORY is not set (systemd sets it for a unit "
                 "with LoadCredential=%s:PATH; elsewhere use {file: PATH} or {env: NAME})",
                 name, name);
        return NULL;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        snprintf(err, err_len, "credential %s: $CREDENTIALS_DIRECTORY is too long", name);
        return NULL;
    }
    snprintf(what, sizeof what, "credential %s (%s)", name, path);
    return read_secret_file(path, what, err, err_len);
}

char *secret_resolve(enum secret_source src, const char *ref, const char *config_path, char *err,
                     size_t err_len)
{
    if (ref == NULL || ref[0] == '\0') {
        snprintf(err, err_len, "%s: expected a non-empty %s", secret_source_name(src),
                 src == SECRET_FILE ? "path" : "name");
        return NULL;
    }
    switch (src) {
    case SECRET_FILE:
        return resolve_file(ref, config_path, err, err_len);
    case SECRET_ENV:
        return resolve_env(ref, err, err_len);
    case SECRET_CREDENTIAL:
        return resolve_credential(ref, err, err_len);
    }
    snprintf(err, err_len, "unknown secret source");
    return NULL;
}

bool secret_key_is_sensitive(const char *key)
{
    static const char *const parts[] = {"password", "secret"};
    static const char *const names[] = {"ssl.key.pem", "sasl.oauthbearer.config"};
    size_t n = strlen(key);

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(key, names[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t m = strlen(parts[i]);
        for (size_t j = 0; j + m <= n; j++)
            if (strncasecmp(key + j, parts[i], m) == 0)
                return true;
    }
    return false;
}

const char *secret_mask(const char *key, const char *value)
{
    return secret_key_is_sensitive(key) ? SECRET_MASK : value;
}
