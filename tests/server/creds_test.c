/* The --credentials file (server/creds.c): format, lookups, every refusal with its line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/creds.h"
#include "tests/test.h"

static void expect_creds_error(const char *text, const char *want)
{
    struct creds *c = NULL;
    char err[256];
    CHECK_EQ_INT(creds_parse(text, strlen(text), "f", &c, err, sizeof(err)), -1);
    CHECK(c == NULL);
    CHECK_EQ_STR(err, want);
}

static void test_creds_file(void)
{
    static const char text[] = "# keys for the test\n"
                               "\n"
                               "AKID1  secret1\n"
                               "\tAKID2\tsecret2\tTOKEN2   # a session key\n"
                               "AKID0 s0 # comment\r\n"
                               "   \n";
    struct creds *c = NULL;
    char err[256];
    CHECK_EQ_INT(creds_parse(text, strlen(text), "f", &c, err, sizeof(err)), 0);
    CHECK_EQ_INT(creds_count(c), 3);
    const struct cred *k = creds_find(c, "AKID2", 5);
    CHECK(k != NULL && strcmp(k->secret, "secret2") == 0 && strcmp(k->token, "TOKEN2") == 0);
    k = creds_find(c, "AKID1x", 5);
    CHECK(k != NULL && strcmp(k->secret, "secret1") == 0 && k->token == NULL);
    CHECK(creds_find(c, "AKID0", 5) != NULL && creds_find(c, "AKID9", 5) == NULL);
    CHECK(creds_find(c, "AKID", 4) == NULL);
    creds_free(c);
    expect_creds_error("AKID1 s1\nAKID2\n", "f:2: expected ACCESS_KEY_ID SECRET_ACCESS_KEY "
                                            "[SESSION_TOKEN]");
    expect_creds_error("A B C D\n", "f:1: more than three fields (ACCESS_KEY_ID "
                                    "SECRET_ACCESS_KEY [SESSION_TOKEN])");
    expect_creds_error("A s\nB s\nA t\n", "f: an access key id appears twice");
    expect_creds_error("# nothing\n", "f: no keys");
    expect_creds_error("A/B s\n", "f:1: access key id with a '/' or a non-printable character");
    CHECK_EQ_INT(creds_load("/nonexistent/creds", &c, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "/nonexistent/creds: No such file or directory");
}

/* A key file others may read loads, with a warning in err; a 0600 one without. */
static void test_creds_file_mode(void)
{
    char path[] = "/tmp/shardcast-creds-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    static const char text[] = "AKID1 secret1\n";
    CHECK(write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1);
    close(fd);
    struct creds *c = NULL;
    char err[512], want[600];
    CHECK_EQ_INT(chmod(path, 0600), 0);
    CHECK_EQ_INT(creds_load(path, &c, err, sizeof(err)), 0);
    CHECK_EQ_STR(err, "");
    creds_free(c);
    CHECK_EQ_INT(chmod(path, 0644), 0);
    CHECK_EQ_INT(creds_load(path, &c, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s is accessible by group or others (mode 0644); chmod 600 it",
             path);
    CHECK_EQ_STR(err, want);
    CHECK(creds_find(c, "AKID1", 5) != NULL);
    creds_free(c);
    CHECK_EQ_INT(chmod(path, 0640), 0);
    CHECK_EQ_INT(creds_load(path, &c, err, sizeof(err)), 0);
    CHECK(strstr(err, "(mode 0640)") != NULL);
    creds_free(c);
    unlink(path);
}

int main(void)
{
    TEST_RUN(test_creds_file);
    TEST_RUN(test_creds_file_mode);
    TEST_EXIT();
}
