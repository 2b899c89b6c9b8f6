/* config.h — command line (architecture.md §7, contract) plus test/tuning knobs.
 * Parsed once in main() before any thread starts; read-only afterwards, so any thread may read. */
#ifndef SC_CONFIG_H
#define SC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

enum fsync_mode { FSYNC_ALWAYS, FSYNC_INTERVAL, FSYNC_NEVER };
enum limits_profile { LIMITS_AWS, LIMITS_OFF };

struct config {
    char listen_host[256];
    uint16_t listen_port; /* 0 = ephemeral */
    bool tls;
    char tls_host[256];
    uint16_t tls_port;
    char tls_cert[1024];
    char tls_key[1024];
    char data_dir[1024];
    enum fsync_mode fsync;
    uint32_t fsync_interval_ms;
    enum limits_profile limits;
    uint32_t max_consumers; /* per stream */
    uint32_t workers;
    char region[64];
    char account_id[16]; /* 12 digits */
    char credentials[1024]; /* --credentials FILE: verify SigV4 against its keys; "" = don't */
    /* Knobs beyond the contract, mostly so tests run fast. */
    uint32_t stream_transition_ms;   /* CREATING->ACTIVE, UPDATING->ACTIVE, DELETING->gone */
    uint32_t consumer_transition_ms; /* consumer CREATING->ACTIVE, DELETING->gone */
    uint32_t subscription_lifetime_ms; /* SubscribeToShard pipe life, AWS: 300000 */
    uint32_t heartbeat_ms;             /* empty event on an idle pipe */
    uint32_t shard_limit;              /* account shard quota reported by DescribeLimits */
    uint64_t body_max_bytes;           /* request body limit */
    uint32_t segment_bytes;            /* a shard log's segment file rolls past this size */
};

/* Fills *cfg from argv. Returns 0, 1 when --help/--version was printed (exit 0), or -1 after
 * printing a usage error to stderr (exit 2). */
int config_parse(struct config *cfg, int argc, char **argv);

/* The process-wide configuration, valid after config_set() in main(). */
const struct config *config_get(void);
void config_set(const struct config *cfg);

#endif
