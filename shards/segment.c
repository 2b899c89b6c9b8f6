#include "shards/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "common/crc32.h"

STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "segment header is little-endian");

/* The on-disk header. Only ever memcpy'd, so its alignment in a buffer does not matter. */
struct disk_hdr {
    uint32_t magic;
    uint32_t hdr_crc;
    uint32_t wire_len;
    uint32_t wire_crc;
    uint64_t counter;
    int64_t arrival_ms;
    uint32_t data_len;
    uint16_t pkey_len;
    uint16_t flags;
};
STATIC_ASSERT(sizeof(struct disk_hdr) == SEGMENT_HDR_SIZE, "segment header layout");
STATIC_ASSERT(offsetof(struct disk_hdr, wire_len) == 8, "hdr_crc covers [8, 40)");
STATIC_ASSERT(offsetof(struct disk_hdr, counter) == 16, "segment header layout");
STATIC_ASSERT(offsetof(struct disk_hdr, flags) == 38, "segment header layout");

#define SCAN_CHUNK (4u << 20)

void segment_encode_hdr(uint8_t out[SEGMENT_HDR_SIZE], const struct segment_rec *r)
{
    ASSERT(r->wire_len <= SEGMENT_WIRE_MAX);
    struct disk_hdr h = {
        .magic = SEGMENT_MAGIC,
        .wire_len = r->wire_len,
        .wire_crc = r->wire_crc,
        .counter = r->counter,
        .arrival_ms = r->arrival_ms,
        .data_len = r->data_len,
        .pkey_len = r->pkey_len,
        .flags = r->flags,
    };
    h.hdr_crc = crc32_update(0, (const uint8_t *)&h + 8, SEGMENT_HDR_SIZE - 8);
    memcpy(out, &h, sizeof(h));
}

int64_t segment_decode(const uint8_t *p, size_t avail, bool verify_wire, struct segment_rec *out,
                       size_t *need)
{
    if (avail < SEGMENT_HDR_SIZE) {
        if (need)
            *need = SEGMENT_HDR_SIZE;
        return 0;
    }
    struct disk_hdr h;
    memcpy(&h, p, sizeof(h));
    if (h.magic != SEGMENT_MAGIC || h.wire_len > SEGMENT_WIRE_MAX ||
        h.hdr_crc != crc32_update(0, p + 8, SEGMENT_HDR_SIZE - 8))
        return -EBADMSG;
    size_t total = SEGMENT_HDR_SIZE + (size_t)h.wire_len;
    if (avail < total) {
        if (need)
            *need = total;
        return 0;
    }
    if (verify_wire && crc32_update(0, p + SEGMENT_HDR_SIZE, h.wire_len) != h.wire_crc)
        return -EBADMSG;
    *out = (struct segment_rec){h.wire_len, h.wire_crc, h.counter, h.arrival_ms,
                                h.data_len, h.pkey_len, h.flags};
    return (int64_t)total;
}

static struct segment *seg_alloc(const char *path, uint64_t base, int fd)
{
    size_t plen = strlen(path) + 1;
    struct segment *seg = sc_calloc(1, sizeof(*seg) + plen);
    memcpy(seg->path, path, plen);
    seg->base = base;
    seg->end = base;
    seg->fd = fd;
    atomic_init(&seg->refs, 1);
    atomic_init(&seg->written, 0);
    return seg;
}

/* Opens the parent of directory `dir` (its path up to the last '/'). */
static int open_parent_dir(const char *dir)
{
    char parent[4096];
    const char *slash = strrchr(dir, '/');
    size_t len = slash == NULL ? 0 : (size_t)(slash - dir);
    if (len >= sizeof(parent))
        return -ENAMETOOLONG;
    if (slash == NULL) {
        memcpy(parent, ".", 2);
    } else if (len == 0) {
        memcpy(parent, "/", 2);
    } else {
        memcpy(parent, dir, len);
        parent[len] = '\0';
    }
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int segment_create(const char *dir, uint64_t base, enum segment_dir_sync how, struct segment **out)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg", dir, base);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    int fds[2] = {open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), -1};
    if (fds[0] < 0)
        return -errno;
    unsigned nfds = 1;
    int rc = 0;
    if (how == SEGMENT_DIR_SYNC_LATER_PARENT) {
        fds[1] = open_parent_dir(dir);
        rc = fds[1] < 0 ? fds[1] : 0;
        nfds = 2;
    }
    int fd = rc == 0 ? open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
    if (rc == 0 && fd < 0)
        rc = -errno;
    if (rc == 0 && how == SEGMENT_DIR_SYNC_NOW && fsync(fds[0]) < 0) {
        rc = -errno;
        close(fd);
        unlink(path);
    }
    if (rc != 0 || how == SEGMENT_DIR_SYNC_NOW) {
        for (unsigned i = 0; i < nfds; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        nfds = 0;
    }
    if (rc != 0)
        return rc;
    *out = seg_alloc(path, base, fd);
    memcpy((*out)->dir_fds, fds, sizeof(fds));
    (*out)->dir_fds_n = nfds;
    return 0;
}

int segment_dir_unsynced(const struct segment *seg)
{
    return seg->dir_fds_n > 0 ? seg->dir_fds[seg->dir_fds_n - 1] : -1;
}

void segment_dir_synced(struct segment *seg)
{
    ASSERT(seg->dir_fds_n > 0);
    close(seg->dir_fds[--seg->dir_fds_n]);
}

void segment_note_record(struct segment *seg, uint64_t position, uint64_t offset, int64_t arrival_ms,
                         uint64_t total_len)
{
    ASSERT(position == seg->end && offset == seg->size);
    bool first = seg->idx_len == 0;
    if (first || offset - seg->idx[seg->idx_len - 1].offset >= SEGMENT_INDEX_BYTES) {
        if (seg->idx_len == seg->idx_cap) {
            seg->idx_cap = seg->idx_cap ? seg->idx_cap * 2 : 64;
            seg->idx = sc_realloc(seg->idx, seg->idx_cap * sizeof(*seg->idx));
        }
        seg->idx[seg->idx_len++] = (struct segment_index_entry){position, offset, arrival_ms};
    }
    if (first)
        seg->first_ms = arrival_ms;
    seg->last_ms = arrival_ms;
    seg->end = position + 1;
    seg->size = offset + total_len;
}

/* Walks buf (file bytes at file offset `off`) and notes every valid record. Returns the bytes
 * consumed; sets *bad when it stopped at a corrupt or out-of-sequence record (not just a short
 * buffer). */
static size_t scan_chunk(struct segment *seg, const uint8_t *buf, size_t len, uint64_t off,
                         bool *bad)
{
    size_t pos = 0;
    while (pos < len) {
        struct segment_rec r;
        int64_t n = segment_decode(buf + pos, len - pos, true, &r, NULL);
        if (n == 0)
            break;
        if (n < 0 || r.counter != seg->end ||
            (seg->idx_len > 0 && r.arrival_ms < seg->last_ms)) {
            *bad = true;
            break;
        }
        segment_note_record(seg, r.counter, off + pos, r.arrival_ms, (uint64_t)n);
        pos += (size_t)n;
    }
    return pos;
}

static int scan(struct segment *seg, uint64_t file_size)
{
    uint8_t *buf = sc_malloc(SCAN_CHUNK + SEGMENT_WIRE_MAX + SEGMENT_HDR_SIZE);
    size_t cap = SCAN_CHUNK + SEGMENT_WIRE_MAX + SEGMENT_HDR_SIZE;
    uint64_t off = 0;
    bool bad = false;
    int rc = 0;
    while (off < file_size && !bad) {
        size_t want = (size_t)SC_MIN((uint64_t)cap, file_size - off);
        ssize_t got = pread(seg->fd, buf, want, (off_t)off);
        if (got < 0) {
            rc = -errno;
            break;
        }
        size_t used = scan_chunk(seg, buf, (size_t)got, off, &bad);
        if (used == 0)
            break; /* a torn record at the end */
        off += used;
    }
    free(buf);
    return rc;
}

/* Index sidecar of a finished segment, DIR/<base>.idx: this header, then `count` entries. Written
 * once (temp file, fsync, rename) so a restart does not rescan old segments. Trusted only when its
 * CRC holds and the segment file still has exactly seg_size bytes. */
struct idx_file_hdr {
    uint32_t magic;
    uint32_t crc; /* of the header bytes after this field and the entries */
    uint64_t count;
    uint64_t seg_size;
    uint64_t seg_end;
    int64_t first_ms;
    int64_t last_ms;
};
STATIC_ASSERT(sizeof(struct idx_file_hdr) == 48, "index sidecar header layout");
STATIC_ASSERT(sizeof(struct segment_index_entry) == 24, "index sidecar entry layout");
#define IDX_MAGIC 0x31494353u /* "SCI1" */

static void idx_path(const struct segment *seg, char *out, size_t cap)
{
    size_t n = strlen(seg->path);
    snprintf(out, cap, "%.*s.idx", (int)(n - 4), seg->path); /* replace ".seg" */
}

static uint32_t idx_crc(const struct idx_file_hdr *h, const struct segment_index_entry *e)
{
    uint32_t c = crc32_update(0, (const uint8_t *)h + 8, sizeof(*h) - 8);
    return crc32_update(c, e, (size_t)h->count * sizeof(*e));
}

int segment_write_index(const struct segment *seg)
{
    char path[4200], tmp[4300];
    idx_path(seg, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    struct idx_file_hdr h = {IDX_MAGIC, 0, seg->idx_len, seg->size, seg->end, seg->first_ms,
                             seg->last_ms};
    h.crc = idx_crc(&h, seg->idx);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t elen = seg->idx_len * sizeof(*seg->idx);
    int rc = 0;
    if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
        (elen > 0 && write(fd, seg->idx, elen) != (ssize_t)elen) || fsync(fd) < 0)
        rc = errno ? -errno : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int segment_save_index(struct segment *seg)
{
    if (seg->idx_saved || seg->end == seg->base)
        return 0;
    int rc = segment_write_index(seg);
    seg->idx_saved = rc == 0;
    return rc;
}

/* Loads the sidecar into seg when it matches a file of file_size bytes. Returns true if used. */
static bool load_index(struct segment *seg, uint64_t file_size)
{
    char path[4200];
    idx_path(seg, path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct idx_file_hdr h;
    bool ok = read(fd, &h, sizeof(h)) == (ssize_t)sizeof(h) && h.magic == IDX_MAGIC &&
              h.seg_size == file_size && h.count > 0 && h.count < (1u << 26) &&
              h.seg_end > seg->base;
    struct segment_index_entry *e = NULL;
    if (ok) {
        e = sc_malloc((size_t)h.count * sizeof(*e));
        size_t elen = (size_t)h.count * sizeof(*e);
        ok = read(fd, e, elen) == (ssize_t)elen && idx_crc(&h, e) == h.crc &&
             e[0].position == seg->base && e[0].offset == 0;
    }
    close(fd);
    if (!ok) {
        free(e);
        return false;
    }
    seg->idx = e;
    seg->idx_len = seg->idx_cap = (size_t)h.count;
    seg->size = h.seg_size;
    seg->end = h.seg_end;
    seg->first_ms = h.first_ms;
    seg->last_ms = h.last_ms;
    seg->idx_saved = true;
    return true;
}

int segment_unlink(const struct segment *seg)
{
    char path[4200];
    idx_path(seg, path, sizeof(path));
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return unlink(seg->path) < 0 ? -errno : 0;
}

int segment_open(const char *path, uint64_t base, bool repair, struct segment **out)
{
    int fd = open(path, (repair ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    struct segment *seg = seg_alloc(path, base, fd);
    if (!repair && load_index(seg, (uint64_t)st.st_size)) {
        atomic_store(&seg->written, seg->size);
        *out = seg;
        return 0;
    }
    int rc = scan(seg, (uint64_t)st.st_size);
    if (rc == 0 && !repair && seg->size == (uint64_t)st.st_size && seg->end > seg->base &&
        (rc = segment_save_index(seg)) != 0) {
        LOG_WARN("segment %s: cannot write its index: %s", path, strerror(-rc));
        rc = 0;
    }
    if (rc == 0 && seg->size < (uint64_t)st.st_size) {
        LOG_WARN("segment %s: %s %" PRIu64 " bytes of torn or corrupt tail at offset %" PRIu64
                 " (%" PRIu64 " records kept)",
                 path, repair ? "cutting" : "ignoring (older segment, file left as is)",
                 (uint64_t)st.st_size - seg->size, seg->size, seg->end - seg->base);
        if (repair && (ftruncate(fd, (off_t)seg->size) < 0 || fdatasync(fd) < 0))
            rc = -errno;
    }
    if (rc != 0) {
        segment_decref(seg);
        return rc;
    }
    atomic_store(&seg->written, seg->size);
    *out = seg;
    return 0;
}

void segment_incref(struct segment *seg)
{
    unsigned prev = atomic_fetch_add(&seg->refs, 1);
    ASSERT(prev > 0);
}

void segment_decref(struct segment *seg)
{
    if (seg == NULL)
        return;
    unsigned prev = atomic_fetch_sub(&seg->refs, 1);
    ASSERT(prev > 0);
    if (prev > 1)
        return;
    close(seg->fd);
    while (seg->dir_fds_n > 0)
        close(seg->dir_fds[--seg->dir_fds_n]);
    free(seg->idx);
    free(seg);
}

const struct segment_index_entry *segment_index_floor(const struct segment *seg, uint64_t position)
{
    ASSERT(seg->idx_len > 0);
    size_t lo = 0, hi = seg->idx_len; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg->idx[mid].position <= position)
            lo = mid;
        else
            hi = mid;
    }
    return &seg->idx[lo];
}

const struct segment_index_entry *segment_index_time(const struct segment *seg, int64_t t_ms)
{
    ASSERT(seg->idx_len > 0);
    size_t lo = 0, hi = seg->idx_len;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg->idx[mid].arrival_ms < t_ms)
            lo = mid;
        else
            hi = mid;
    }
    return &seg->idx[lo];
}

int segment_parse_name(const char *name, uint64_t *base)
{
    size_t len = strlen(name);
    if (len != 24 || strcmp(name + 20, ".seg") != 0)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -EINVAL;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *base = v;
    return 0;
}
