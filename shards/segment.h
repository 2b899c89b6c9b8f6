/* segment.h — one append-only segment file of a shard's log and its on-disk record format.
 *
 * File: DIR/<first counter, 20 zero-padded decimal digits>.seg. A file is a sequence of records,
 * each a fixed header followed by the record's wire bytes (record.h), no padding:
 *
 *   off size field
 *    0   4   magic       SEGMENT_MAGIC
 *    4   4   hdr_crc     CRC32 of header bytes [8, 40): covers wire_crc, hence the wire bytes
 *    8   4   wire_len    bytes of wire form that follow (<= SEGMENT_WIRE_MAX)
 *   12   4   wire_crc    CRC32 of the wire bytes (the fan-out combines these with crc32_combine)
 *   16   8   counter     the record's position; consecutive within a file, first == file name
 *   24   8   arrival_ms  epoch ms, non-decreasing along the shard
 *   32   4   data_len    decoded Data bytes (the data+key size accounting)
 *   36   2   pkey_len    partition key bytes (unescaped)
 *   38   2   flags       0 today
 * Integers are little-endian (the host order; asserted at build time).
 *
 * Checksums are computed before a record is placed in memory and verified after every read from
 * disk (segment_decode). Recovery (segment_open) walks the file and cuts it at the first record
 * that is torn, fails a CRC or breaks the counter sequence: everything from there on is truncated
 * and logged.
 *
 * A segment keeps a sparse in-memory index (position, file offset, arrival) every
 * SEGMENT_INDEX_BYTES. A finished segment's index is saved beside it (<base>.idx) the first time it
 * is opened as an older segment, and loaded instead of scanning from then on; the last segment is
 * always scanned. Thread rule: a struct segment is not locked;
 * shardlog serialises access (its index lock) — fd, base and path are immutable after open. */
#ifndef SC_SEGMENT_H
#define SC_SEGMENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEGMENT_MAGIC 0x31524353u /* "SCR1" on disk */
#define SEGMENT_HDR_SIZE 40u
/* > a 10 MiB record's base64 (13.34 MiB) + its key escaped at worst (4.5 KiB) + fields. */
#define SEGMENT_WIRE_MAX (14u << 20)
#define SEGMENT_INDEX_BYTES (32u << 10)

/* A decoded header. */
struct segment_rec {
    uint32_t wire_len;
    uint32_t wire_crc;
    uint64_t counter;
    int64_t arrival_ms;
    uint32_t data_len;
    uint16_t pkey_len;
    uint16_t flags;
};

struct segment_index_entry {
    uint64_t position;
    uint64_t offset;
    int64_t arrival_ms;
};

struct segment {
    uint64_t base;             /* first position (file name) */
    int fd;
    uint64_t size;             /* bytes of complete records placed (in memory or on disk) */
    _Atomic uint64_t written;  /* bytes of the file known written (readable by pread) */
    uint64_t end;              /* next position after the last record */
    int64_t first_ms, last_ms; /* arrival of the first/last record; 0 when empty */
    struct segment_index_entry *idx;
    size_t idx_len, idx_cap;
    atomic_uint refs; /* shardlog's list holds one; each in-flight disk read one */
    bool idx_saved;   /* the <base>.idx sidecar matches this segment */
    /* Directories whose entries leading to this file are not yet synced: the file's directory,
     * then (a shard's first segment) that directory's parent. See segment_create. */
    int dir_fds[2];
    unsigned dir_fds_n;
    char path[];
};

/* Writes the header for r whose wire bytes' CRC is r->wire_crc. Asserts wire_len bound. */
void segment_encode_hdr(uint8_t out[SEGMENT_HDR_SIZE], const struct segment_rec *r);

/* Decodes the record at p[0..avail). Returns its total size (header + wire) when complete and
 * valid; 0 when avail is too short to hold it (*need, if not NULL, is set to the total size when
 * the header is complete and valid, else to SEGMENT_HDR_SIZE); -EBADMSG when the magic, header
 * CRC, length bound or (if verify_wire) the wire CRC is wrong. */
int64_t segment_decode(const uint8_t *p, size_t avail, bool verify_wire, struct segment_rec *out,
                       size_t *need);

enum segment_dir_sync {
    SEGMENT_DIR_SYNC_NOW,          /* fsync DIR before returning */
    SEGMENT_DIR_SYNC_LATER,        /* keep DIR open in dir_fds for the owner */
    SEGMENT_DIR_SYNC_LATER_PARENT, /* keep DIR and DIR/.. open (DIR itself may be new) */
};

/* Creates DIR/<base>.seg (must not exist). SYNC_LATER leaves the directory syncs to the owner,
 * off this thread: before a record in the file is acknowledged it fsyncs each fd that
 * segment_dir_unsynced() gives and calls segment_dir_synced(). Returns 0 and *out (refs 1), or
 * -errno. */
int segment_create(const char *dir, uint64_t base, enum segment_dir_sync how, struct segment **out);
/* The next directory fd to fsync for seg's entry, or -1 when every one is synced. */
int segment_dir_unsynced(const struct segment *seg);
/* Closes the fd segment_dir_unsynced() gave, after its fsync succeeded. */
void segment_dir_synced(struct segment *seg);

/* Opens an existing file, scans it and builds the index. A torn/corrupt tail (or a counter out of
 * sequence) is truncated when `repair` (the shard's last segment), else the segment simply ends
 * there (an older segment is never rewritten; the gap is skipped by readers). Logs what it cut.
 * Returns 0 and *out, or -errno. */
int segment_open(const char *path, uint64_t base, bool repair, struct segment **out);

/* Writes the sparse index of a finished (no longer appended) segment to DIR/<base>.idx (temp file,
 * fsync, rename) so the next open loads it instead of scanning. Returns 0 or -errno. */
int segment_write_index(const struct segment *seg);

/* segment_write_index() once: no-op when already saved (or loaded) or the segment is empty. */
int segment_save_index(struct segment *seg);

/* Removes the segment file and its index sidecar. Returns 0 or -errno. */
int segment_unlink(const struct segment *seg);

/* Takes and drops a reference; the last drop closes the fd and frees. */
void segment_incref(struct segment *seg);
void segment_decref(struct segment *seg);

/* Records a record placed at `offset` with `position` in the sparse index when it is the first
 * one or SEGMENT_INDEX_BYTES past the previous entry, and updates end/last_ms/size. */
void segment_note_record(struct segment *seg, uint64_t position, uint64_t offset, int64_t arrival_ms,
                         uint64_t total_len);

/* The index entry with the greatest position <= position (the first entry if none). Asserts the
 * segment is not empty. */
const struct segment_index_entry *segment_index_floor(const struct segment *seg, uint64_t position);
/* The last index entry whose arrival is < t_ms (the first entry if none): a scan start for "first
 * record with arrival >= t". */
const struct segment_index_entry *segment_index_time(const struct segment *seg, int64_t t_ms);

/* Parses a "<20 digits>.seg" file name; returns 0 and *base, or -EINVAL. */
int segment_parse_name(const char *name, uint64_t *base);

#endif
