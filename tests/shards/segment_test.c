#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32.h"
#include "shards/segment.h"
#include "tests/test.h"

static char dir[256];

/* Writes n records (positions base..base+n-1) to a new segment; returns the record offsets. */
static void write_segment(uint64_t base, int n, uint64_t *offs, uint64_t *size_out)
{
    struct segment *seg;
    CHECK_EQ_INT(segment_create(dir, base, SEGMENT_DIR_SYNC_NOW, &seg), 0);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        char wire[128];
        int wl = snprintf(wire, sizeof(wire), "{\"rec\":%d,\"pad\":\"%.*s\"}", i, i % 40,
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        struct segment_rec r = {(uint32_t)wl, crc32_update(0, wire, (size_t)wl), base + (uint64_t)i,
                                1700000000000 + i, 3, 1, 0};
        uint8_t hdr[SEGMENT_HDR_SIZE];
        segment_encode_hdr(hdr, &r);
        CHECK(pwrite(seg->fd, hdr, sizeof(hdr), (off_t)off) == sizeof(hdr));
        CHECK(pwrite(seg->fd, wire, (size_t)wl, (off_t)(off + sizeof(hdr))) == wl);
        if (offs)
            offs[i] = off;
        off += sizeof(hdr) + (uint64_t)wl;
    }
    *size_out = off;
    segment_decref(seg);
}

static void path_of(char *p, size_t cap, uint64_t base)
{
    snprintf(p, cap, "%s/%020llu.seg", dir, (unsigned long long)base);
}

static off_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static void test_clean_and_index(void)
{
    uint64_t size;
    write_segment(100, 3000, NULL, &size);
    char p[512];
    path_of(p, sizeof(p), 100);
    struct segment *seg;
    CHECK_EQ_INT(segment_open(p, 100, true, &seg), 0);
    CHECK_EQ_INT(seg->end, 3100);
    CHECK_EQ_INT(seg->size, size);
    CHECK(seg->idx_len > 1);
    CHECK_EQ_INT(seg->first_ms, 1700000000000);
    CHECK_EQ_INT(seg->last_ms, 1700000000000 + 2999);
    const struct segment_index_entry *e = segment_index_floor(seg, 2000);
    CHECK(e->position <= 2000 && e->position > 100);
    e = segment_index_floor(seg, 50);
    CHECK_EQ_INT(e->position, 100);
    e = segment_index_time(seg, 1700000000000 + 1500);
    CHECK(e->arrival_ms < 1700000000000 + 1500 && e->position > 100);
    segment_decref(seg);
    uint64_t b;
    CHECK_EQ_INT(segment_parse_name("00000000000000000100.seg", &b), 0);
    CHECK_EQ_INT(b, 100);
    CHECK_EQ_INT(segment_parse_name("100.seg", &b), -EINVAL);
    CHECK_EQ_INT(segment_create(dir, 100, SEGMENT_DIR_SYNC_NOW, &seg), -EEXIST);
    unlink(p);
}

static void test_torn_tail(void)
{
    uint64_t offs[50], size;
    write_segment(0, 50, offs, &size);
    char p[512];
    path_of(p, sizeof(p), 0);
    CHECK_EQ_INT(truncate(p, (off_t)(offs[49] + 20)), 0); /* mid-header of the last record */
    struct segment *seg;
    CHECK_EQ_INT(segment_open(p, 0, true, &seg), 0);
    CHECK_EQ_INT(seg->end, 49);
    CHECK_EQ_INT(file_size(p), offs[49]);
    segment_decref(seg);
    CHECK_EQ_INT(truncate(p, (off_t)(offs[48] + SEGMENT_HDR_SIZE + 3)), 0); /* mid-wire */
    CHECK_EQ_INT(segment_open(p, 0, true, &seg), 0);
    CHECK_EQ_INT(seg->end, 48);
    CHECK_EQ_INT(file_size(p), offs[48]);
    segment_decref(seg);
    unlink(p);
}

static void test_flipped_bit(void)
{
    uint64_t offs[200], size;
    write_segment(0, 200, offs, &size);
    char p[512];
    path_of(p, sizeof(p), 0);
    int fd = open(p, O_RDWR);
    uint8_t c;
    off_t at = (off_t)(offs[120] + SEGMENT_HDR_SIZE + 5); /* a wire byte of record 120 */
    CHECK(pread(fd, &c, 1, at) == 1);
    c ^= 0x10;
    CHECK(pwrite(fd, &c, 1, at) == 1);
    close(fd);
    struct segment *seg;
    /* An older segment is left alone but ends at the bad record. */
    CHECK_EQ_INT(segment_open(p, 0, false, &seg), 0);
    CHECK_EQ_INT(seg->end, 120);
    CHECK_EQ_INT(file_size(p), size);
    segment_decref(seg);
    CHECK_EQ_INT(segment_open(p, 0, true, &seg), 0);
    CHECK_EQ_INT(seg->end, 120);
    CHECK_EQ_INT(file_size(p), offs[120]);
    segment_decref(seg);
    unlink(p);
}

static void test_empty_and_garbage(void)
{
    char p[512];
    path_of(p, sizeof(p), 7);
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    close(fd);
    struct segment *seg;
    CHECK_EQ_INT(segment_open(p, 7, true, &seg), 0);
    CHECK_EQ_INT(seg->end, 7);
    CHECK_EQ_INT(seg->size, 0);
    segment_decref(seg);
    fd = open(p, O_RDWR | O_TRUNC);
    uint8_t junk[5000];
    unsigned seed = 12345;
    fprintf(stderr, "garbage seed %u\n", seed);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)rand_r(&seed);
    CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    close(fd);
    CHECK_EQ_INT(segment_open(p, 7, true, &seg), 0);
    CHECK_EQ_INT(seg->end, 7);
    CHECK_EQ_INT(file_size(p), 0);
    segment_decref(seg);
    unlink(p);
    /* A record out of counter sequence (file named 5, record says 0) is cut too. */
    uint64_t size;
    write_segment(0, 3, NULL, &size);
    char p0[512], p5[512];
    path_of(p0, sizeof(p0), 0);
    path_of(p5, sizeof(p5), 5);
    CHECK_EQ_INT(rename(p0, p5), 0);
    CHECK_EQ_INT(segment_open(p5, 5, true, &seg), 0);
    CHECK_EQ_INT(seg->end, 5);
    segment_decref(seg);
    unlink(p5);
}

static void test_decode(void)
{
    uint8_t buf[SEGMENT_HDR_SIZE + 4];
    struct segment_rec r = {4, crc32_update(0, "abcd", 4), 9, 1, 2, 3, 0}, o;
    segment_encode_hdr(buf, &r);
    memcpy(buf + SEGMENT_HDR_SIZE, "abcd", 4);
    size_t need = 0;
    CHECK_EQ_INT(segment_decode(buf, 10, true, &o, &need), 0);
    CHECK_EQ_INT(need, SEGMENT_HDR_SIZE);
    CHECK_EQ_INT(segment_decode(buf, SEGMENT_HDR_SIZE + 2, true, &o, &need), 0);
    CHECK_EQ_INT(need, SEGMENT_HDR_SIZE + 4);
    CHECK_EQ_INT(segment_decode(buf, sizeof(buf), true, &o, NULL), SEGMENT_HDR_SIZE + 4);
    CHECK(o.counter == 9 && o.arrival_ms == 1 && o.data_len == 2 && o.pkey_len == 3);
    buf[SEGMENT_HDR_SIZE + 1] ^= 1;
    CHECK_EQ_INT(segment_decode(buf, sizeof(buf), true, &o, NULL), -EBADMSG);
    CHECK_EQ_INT(segment_decode(buf, sizeof(buf), false, &o, NULL), SEGMENT_HDR_SIZE + 4);
    buf[20] ^= 1; /* counter bit: header CRC */
    CHECK_EQ_INT(segment_decode(buf, sizeof(buf), false, &o, NULL), -EBADMSG);
}

static void test_index_sidecar(void)
{
    uint64_t size;
    write_segment(500, 2000, NULL, &size);
    char p[512], ip[512];
    path_of(p, sizeof(p), 500);
    snprintf(ip, sizeof(ip), "%s/%020d.idx", dir, 500);
    struct segment *seg;
    CHECK_EQ_INT(segment_open(p, 500, false, &seg), 0); /* scans, then saves the index */
    size_t idx_len = seg->idx_len;
    int64_t last_ms = seg->last_ms;
    segment_decref(seg);
    CHECK(file_size(ip) > 48);
    CHECK_EQ_INT(segment_open(p, 500, false, &seg), 0); /* loads it */
    CHECK_EQ_INT(seg->end, 2500);
    CHECK_EQ_INT(seg->size, size);
    CHECK_EQ_INT(seg->idx_len, idx_len);
    CHECK_EQ_INT(seg->last_ms, last_ms);
    CHECK_EQ_INT(segment_index_floor(seg, 1800)->position <= 1800, 1);
    segment_decref(seg);
    /* A damaged sidecar is ignored (rescanned and rewritten). */
    int fd = open(ip, O_RDWR);
    char c = 0x55;
    CHECK(pwrite(fd, &c, 1, 60) == 1);
    close(fd);
    CHECK_EQ_INT(segment_open(p, 500, false, &seg), 0);
    CHECK_EQ_INT(seg->end, 2500);
    CHECK_EQ_INT(seg->idx_len, idx_len);
    CHECK_EQ_INT(segment_unlink(seg), 0);
    segment_decref(seg);
    CHECK_EQ_INT(file_size(ip), -1);
    CHECK_EQ_INT(file_size(p), -1);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sc_segment_test.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    TEST_RUN(test_decode);
    TEST_RUN(test_clean_and_index);
    TEST_RUN(test_torn_tail);
    TEST_RUN(test_flipped_bit);
    TEST_RUN(test_empty_and_garbage);
    TEST_RUN(test_index_sidecar);
    rmdir(dir);
    TEST_EXIT();
}
