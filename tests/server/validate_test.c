#include "server/validate.h"

#include "common/errors.h"
#include "tests/test.h"

static json_t *J(const char *s)
{
    return json_loads(s, 0, NULL);
}

static void test_messages(void)
{
    struct validate v;
    const char *msg;
    json_t *o = J("{\"StreamName\":\"a/b\",\"Limit\":0,\"Mode\":\"X\",\"Key\":\"\"}");
    validate_init(&v);
    CHECK(validate_string(&v, o, "StreamName", "streamName", true, 1, 128, VALIDATE_NAME_PATTERN) ==
          NULL);
    int64_t x;
    CHECK(!validate_int(&v, o, "Limit", "limit", false, 1, 10000, &x));
    static const char *const modes[] = {"A", "B"};
    CHECK_EQ_INT(validate_enum(&v, o, "Mode", "mode", true, modes, 2), -1);
    CHECK(validate_string(&v, o, "Key", "key", true, 1, 10, NULL) == NULL);
    CHECK(validate_string(&v, o, "Missing", "records.1.member.partitionKey", true, 1, 10, NULL) ==
          NULL);
    CHECK_EQ_INT(validate_finish(&v, &msg), KERR_VALIDATION);
    CHECK_EQ_STR(msg, "5 validation errors detected: "
                      "Value 'a/b' at 'streamName' failed to satisfy constraint: Member must "
                      "satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
                      "Value '0' at 'limit' failed to satisfy constraint: Member must have value "
                      "greater than or equal to 1; "
                      "Value 'X' at 'mode' failed to satisfy constraint: Member must satisfy enum "
                      "value set: [A, B]; "
                      "Value '' at 'key' failed to satisfy constraint: Member must have length "
                      "greater than or equal to 1; "
                      "Value null at 'records.1.member.partitionKey' failed to satisfy "
                      "constraint: Member must not be null");
    json_decref(o);
}

static void test_single_and_ok(void)
{
    struct validate v;
    const char *msg;
    json_t *o = J("{\"N\":\"\\u00e9\\u00e9\",\"I\":5,\"F\":5.0,\"T\":1700000000.123,\"U\":17}");
    validate_init(&v);
    CHECK(validate_string(&v, o, "N", "n", true, 1, 2, NULL) != NULL); /* 2 chars, 4 bytes */
    int64_t x = 0, ms = 0;
    CHECK(validate_int(&v, o, "I", "i", true, 1, 5, &x) && x == 5);
    CHECK(validate_int(&v, o, "F", "f", true, 1, 5, &x) && x == 5);
    CHECK(validate_timestamp(&v, o, "T", "t", true, &ms));
    CHECK_EQ_INT(ms, 1700000000123LL);
    CHECK(validate_timestamp(&v, o, "U", "u", true, &ms));
    CHECK_EQ_INT(ms, 17000);
    CHECK_EQ_INT(validate_finish(&v, &msg), 0);
    validate_init(&v);
    CHECK(!validate_int(&v, o, "I", "i", true, 1, 4, &x));
    CHECK_EQ_INT(validate_finish(&v, &msg), KERR_VALIDATION);
    CHECK_EQ_STR(msg, "1 validation error detected: Value '5' at 'i' failed to satisfy "
                      "constraint: Member must have value less than or equal to 4");
    json_decref(o);
}

static void test_serialization(void)
{
    struct validate v;
    const char *msg;
    json_t *o =
        J("{\"S\":1,\"I\":\"x\",\"B\":\"true\",\"O\":[],\"L\":{},\"D\":1.5,\"Bad\":\"y!\"}");
    validate_init(&v);
    CHECK(validate_string(&v, o, "Bad", "bad", true, 1, 5, VALIDATE_NAME_PATTERN) == NULL);
    CHECK(validate_string(&v, o, "S", "s", true, 1, 5, NULL) == NULL);
    CHECK_EQ_INT(validate_finish(&v, &msg), KERR_SERIALIZATION); /* types win */
    CHECK_EQ_STR(msg, "NUMBER_VALUE can not be converted to a String");
    int64_t x;
    bool b;
    validate_init(&v);
    CHECK(!validate_int(&v, o, "I", "i", true, 0, 9, &x));
    CHECK_EQ_INT(validate_finish(&v, &msg), KERR_SERIALIZATION);
    CHECK_EQ_STR(msg, "STRING_VALUE can not be converted to an Integer");
    validate_init(&v);
    CHECK(!validate_bool(&v, o, "B", &b));
    CHECK_EQ_INT(validate_finish(&v, &msg), KERR_SERIALIZATION);
    validate_init(&v);
    CHECK(validate_object(&v, o, "O", "o", true) == NULL);
    CHECK_EQ_INT(validate_finish(&v, &msg), KERR_SERIALIZATION);
    CHECK_EQ_STR(msg, "Start of list found where not expected");
    validate_init(&v);
    CHECK(validate_array(&v, o, "L", "l", true, 1, 5) == NULL);
    CHECK_EQ_INT(validate_finish(&v, &msg), KERR_SERIALIZATION);
    CHECK_EQ_STR(msg, "Start of structure or map found where not expected.");
    validate_init(&v);
    CHECK(!validate_int(&v, o, "D", "d", true, 0, 9, &x));
    CHECK_EQ_INT(validate_finish(&v, &msg), KERR_SERIALIZATION);
    json_decref(o);

    /* Timestamps whose milliseconds do not fit: refused, never multiplied (UBSan aborts). */
    o = J("{\"Min\":-9223372036854775808,\"Max\":9223372036854775807,\"Big\":1e14,"
          "\"Edge\":99999999999999}");
    int64_t ms = 0;
    static const char *const huge[] = {"Min", "Max", "Big"};
    for (size_t i = 0; i < 3; i++) {
        validate_init(&v);
        CHECK(!validate_timestamp(&v, o, huge[i], "t", true, &ms));
        CHECK_EQ_INT(validate_finish(&v, &msg), KERR_SERIALIZATION);
        CHECK_EQ_STR(msg, "Timestamp out of range");
    }
    validate_init(&v);
    CHECK(validate_timestamp(&v, o, "Edge", "t", true, &ms));
    CHECK_EQ_INT(ms, 99999999999999000LL);
    json_decref(o);
}

int main(void)
{
    TEST_RUN(test_messages);
    TEST_RUN(test_single_and_ok);
    TEST_RUN(test_serialization);
    TEST_EXIT();
}
