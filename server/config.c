#include "server/config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"

static struct config g_config;

const struct config *config_get(void)
{
    return &g_config;
}

void config_set(const struct config *cfg)
{
    g_config = *cfg;
}

static void usage(FILE *out)
{
    fputs("usage: shardcastd [--listen HOST:PORT] [--tls-listen HOST:PORT --tls-cert PEM "
          "--tls-key PEM]\n"
          "                  [--data-dir DIR] [--fsync always|interval|never] "
          "[--limits aws|off]\n"
          "                  [--max-consumers N] [--workers N] [--region R] [--account-id ID]\n"
          "                  [--credentials FILE]\n"
          "tuning: [--fsync-interval-ms N] [--stream-transition-ms N] "
          "[--consumer-transition-ms N]\n"
          "        [--subscription-lifetime-ms N] [--heartbeat-ms N] [--shard-limit N] "
          "[--body-max-bytes N]\n"
          "        [--segment-bytes N]\n"
          "  --credentials FILE  verify SigV4 signatures against the keys in FILE, one\n"
          "                      'ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN]' a line ('#'\n"
          "                      comments); the credential scope's region must be --region.\n"
          "                      Without it any access key and secret are accepted.\n",
          out);
}

/* HOST:PORT, [v6]:PORT. */
static int parse_hostport(const char *s, char *host, size_t host_cap, uint16_t *port)
{
    const char *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        hlen = (size_t)(end - s - 1);
        s++;
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= host_cap)
        return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    char *endp;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &endp, 10);
    if (errno != 0 || *endp != '\0' || endp == colon + 1 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *endp;
    errno = 0;
    unsigned long long v = strtoull(s, &endp, 10);
    if (errno != 0 || *endp != '\0' || endp == s || s[0] == '-' || v < min || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static void set_defaults(struct config *cfg)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 4567;
    strcpy(cfg->data_dir, "./shardcast-data");
    cfg->fsync = FSYNC_INTERVAL;
    cfg->fsync_interval_ms = 100;
    cfg->limits = LIMITS_AWS;
    cfg->max_consumers = 5;
    cfg->workers = cores > 0 ? (uint32_t)SC_MIN(cores, 64) : 1;
    strcpy(cfg->region, "us-east-1");
    strcpy(cfg->account_id, "000000000000");
    cfg->stream_transition_ms = 500;
    cfg->consumer_transition_ms = 500;
    cfg->subscription_lifetime_ms = 300000;
    cfg->heartbeat_ms = 5000;
    cfg->shard_limit = 500;
    cfg->segment_bytes = 64u << 20;
    /* A 10 MiB record, or a PutRecords of 10 MiB, is 13.4 MiB of base64; twice that from a
     * client that escapes every '/' as JSON allows (PHP's json_encode does), plus the keys. */
    cfg->body_max_bytes = 32u << 20;
}

enum {
    OPT_LISTEN = 256, OPT_TLS_LISTEN, OPT_TLS_CERT, OPT_TLS_KEY, OPT_DATA_DIR, OPT_FSYNC,
    OPT_FSYNC_INTERVAL, OPT_LIMITS, OPT_MAX_CONSUMERS, OPT_WORKERS, OPT_REGION, OPT_ACCOUNT,
    OPT_STREAM_TRANSITION, OPT_CONSUMER_TRANSITION, OPT_SUB_LIFETIME, OPT_HEARTBEAT,
    OPT_SHARD_LIMIT, OPT_BODY_MAX, OPT_SEGMENT_BYTES, OPT_CREDENTIALS, OPT_HELP, OPT_VERSION,
};

static int apply(struct config *cfg, int opt, const char *arg)
{
    uint32_t v;
    switch (opt) {
    case OPT_LISTEN:
        return parse_hostport(arg, cfg->listen_host, sizeof(cfg->listen_host), &cfg->listen_port);
    case OPT_TLS_LISTEN:
        cfg->tls = true;
        return parse_hostport(arg, cfg->tls_host, sizeof(cfg->tls_host), &cfg->tls_port);
    case OPT_TLS_CERT: return copy_str(cfg->tls_cert, sizeof(cfg->tls_cert), arg);
    case OPT_TLS_KEY: return copy_str(cfg->tls_key, sizeof(cfg->tls_key), arg);
    case OPT_DATA_DIR: return copy_str(cfg->data_dir, sizeof(cfg->data_dir), arg);
    case OPT_FSYNC:
        if (strcmp(arg, "always") == 0)
            cfg->fsync = FSYNC_ALWAYS;
        else if (strcmp(arg, "interval") == 0)
            cfg->fsync = FSYNC_INTERVAL;
        else if (strcmp(arg, "never") == 0)
            cfg->fsync = FSYNC_NEVER;
        else
            return -1;
        return 0;
    case OPT_FSYNC_INTERVAL: return parse_u32(arg, 1, 60000, &cfg->fsync_interval_ms);
    case OPT_LIMITS:
        if (strcmp(arg, "aws") == 0)
            cfg->limits = LIMITS_AWS;
        else if (strcmp(arg, "off") == 0)
            cfg->limits = LIMITS_OFF;
        else
            return -1;
        return 0;
    case OPT_MAX_CONSUMERS: return parse_u32(arg, 1, 10000, &cfg->max_consumers);
    case OPT_WORKERS: return parse_u32(arg, 1, 64, &cfg->workers);
    case OPT_REGION: return copy_str(cfg->region, sizeof(cfg->region), arg);
    case OPT_ACCOUNT:
        if (strlen(arg) != 12 || strspn(arg, "0123456789") != 12)
            return -1;
        return copy_str(cfg->account_id, sizeof(cfg->account_id), arg);
    case OPT_STREAM_TRANSITION: return parse_u32(arg, 0, 600000, &cfg->stream_transition_ms);
    case OPT_CONSUMER_TRANSITION: return parse_u32(arg, 0, 600000, &cfg->consumer_transition_ms);
    case OPT_SUB_LIFETIME: return parse_u32(arg, 100, 3600000, &cfg->subscription_lifetime_ms);
    case OPT_HEARTBEAT: return parse_u32(arg, 10, 60000, &cfg->heartbeat_ms);
    case OPT_SHARD_LIMIT: return parse_u32(arg, 1, 1000000, &cfg->shard_limit);
    case OPT_BODY_MAX:
        if (parse_u32(arg, 1024, UINT32_MAX, &v) != 0)
            return -1;
        cfg->body_max_bytes = v;
        return 0;
    case OPT_SEGMENT_BYTES: return parse_u32(arg, 64u << 10, 1u << 30, &cfg->segment_bytes);
    case OPT_CREDENTIALS: return copy_str(cfg->credentials, sizeof(cfg->credentials), arg);
    default: return -1;
    }
}

int config_parse(struct config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"tls-listen", required_argument, NULL, OPT_TLS_LISTEN},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"fsync", required_argument, NULL, OPT_FSYNC},
        {"fsync-interval-ms", required_argument, NULL, OPT_FSYNC_INTERVAL},
        {"limits", required_argument, NULL, OPT_LIMITS},
        {"max-consumers", required_argument, NULL, OPT_MAX_CONSUMERS},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"region", required_argument, NULL, OPT_REGION},
        {"account-id", required_argument, NULL, OPT_ACCOUNT},
        {"stream-transition-ms", required_argument, NULL, OPT_STREAM_TRANSITION},
        {"consumer-transition-ms", required_argument, NULL, OPT_CONSUMER_TRANSITION},
        {"subscription-lifetime-ms", required_argument, NULL, OPT_SUB_LIFETIME},
        {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT},
        {"shard-limit", required_argument, NULL, OPT_SHARD_LIMIT},
        {"body-max-bytes", required_argument, NULL, OPT_BODY_MAX},
        {"segment-bytes", required_argument, NULL, OPT_SEGMENT_BYTES},
        {"credentials", required_argument, NULL, OPT_CREDENTIALS},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;

    set_defaults(cfg);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            usage(stdout);
            return 1;
        }
        if (opt == OPT_VERSION) {
            puts("shardcastd 0.1.0");
            return 1;
        }
        if (opt == '?' || apply(cfg, opt, optarg) != 0) {
            if (opt != '?')
                fprintf(stderr, "shardcastd: invalid value '%s' for --%s\n", optarg,
                        opts[opt - OPT_LISTEN].name);
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "shardcastd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    if (cfg->tls && (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0')) {
        fprintf(stderr, "shardcastd: --tls-listen needs --tls-cert and --tls-key\n");
        return -1;
    }
    return 0;
}
