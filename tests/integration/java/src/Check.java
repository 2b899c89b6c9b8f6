import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Typed access to a Cbor.read tree, each accessor failing (CheckFailed) when the member is not
 * the CBOR type a Java SDK unmarshaller needs there.
 */
final class Check {
    private Check() {}

    static final class CheckFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        CheckFailed(String msg) {
            super(msg);
        }
    }

    static CheckFailed fail(String fmt, Object... args) {
        return new CheckFailed(String.format(fmt, args));
    }

    static void that(boolean cond, String fmt, Object... args) {
        if (!cond)
            throw fail(fmt, args);
    }

    static void eq(Object want, Object got, String what) {
        boolean same = want instanceof byte[] && got instanceof byte[]
                ? Arrays.equals((byte[]) want, (byte[]) got)
                : want == null ? got == null : want.equals(got);
        if (!same)
            throw fail("%s: want %s, got %s", what, Cbor.show(want), Cbor.show(got));
    }

    static Object member(Object m, String key) {
        if (!(m instanceof Map))
            throw fail("expected a map holding %s, got %s", key, Cbor.show(m));
        Map<?, ?> map = (Map<?, ?>) m;
        if (!map.containsKey(key))
            throw fail("member %s missing in %s", key, Cbor.show(m));
        return map.get(key);
    }

    static boolean has(Object m, String key) {
        return m instanceof Map && ((Map<?, ?>) m).containsKey(key);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object m, String key) {
        Object v = member(m, key);
        if (!(v instanceof Map))
            throw fail("%s: expected a map, got %s", key, Cbor.show(v));
        return (Map<String, Object>) v;
    }

    static List<?> list(Object m, String key) {
        Object v = member(m, key);
        if (!(v instanceof List))
            throw fail("%s: expected an array, got %s", key, Cbor.show(v));
        return (List<?>) v;
    }

    static String str(Object m, String key) {
        Object v = member(m, key);
        if (!(v instanceof String))
            throw fail("%s: expected a text string, got %s", key, Cbor.show(v));
        return (String) v;
    }

    /** A long member (Integer/Long shapes): an untagged CBOR integer, as getLongValue reads. */
    static long lng(Object m, String key) {
        Object v = member(m, key);
        if (!(v instanceof Long))
            throw fail("%s: expected an untagged CBOR integer, got %s", key, Cbor.show(v));
        return (Long) v;
    }

    /** A blob member: a CBOR byte string (Jackson VALUE_EMBEDDED_OBJECT), not base64 text. */
    static byte[] bytes(Object m, String key) {
        Object v = member(m, key);
        if (!(v instanceof byte[]))
            throw fail("%s: expected a CBOR byte string, got %s", key, Cbor.show(v));
        return (byte[]) v;
    }

    /**
     * A timestamp member: tag 1 around a CBOR integer that is epoch MILLISECONDS within
     * [lo, hi] ms. A float (Java v2's UNIX_TIMESTAMP_MILLIS path wants a long) or seconds
     * (RFC 8949's tag 1 unit, 1000x too small) fail.
     */
    static long millis(Object m, String key, long lo, long hi) {
        Object v = member(m, key);
        if (!(v instanceof Cbor.Tagged) || ((Cbor.Tagged) v).tag != 1)
            throw fail("%s: expected tag 1 (epoch time), got %s", key, Cbor.show(v));
        Object n = ((Cbor.Tagged) v).value;
        if (!(n instanceof Long))
            throw fail("%s: expected an integer under tag 1 (Java reads getLongValue() millis),"
                    + " got %s", key, Cbor.show(n));
        long ms = (Long) n;
        if (ms < lo || ms > hi)
            throw fail("%s: %d is not epoch milliseconds in [%d, %d] (seconds would be ~%d)",
                    key, ms, lo, hi, lo / 1000);
        return ms;
    }
}
