/* container.c: see container.h. */
#include "container.h"

#include <string.h>

int nn_cursor_take(nn_cursor *c, uint64_t count, uint32_t size, const void **out, const char *what,
                   nn_error *err) {
    uint64_t bytes = count * size;
    uint64_t padded = nn_pad4(bytes);
    uint64_t left = c->end - c->pos;
    if (padded > left)
        return nn_fail(err, NN_ERR_FORMAT, "%s is truncated or corrupt: %s needs %llu "
                       "bytes at offset %llu but only %llu remain; %s", c->kind,
                       what, (unsigned long long)padded, (unsigned long long)c->pos,
                       (unsigned long long)left, c->rebuild);
    const uint8_t *p = c->buf + c->pos;
    for (uint64_t i = bytes; i < padded; i++)
        if (p[i])
            return nn_fail(err, NN_ERR_FORMAT, "%s is corrupt: non-zero padding after %s "
                           "at offset %llu; %s", c->kind, what,
                           (unsigned long long)(c->pos + i), c->rebuild);
    *out = p;
    c->pos += (size_t)padded;
    return NN_OK;
}

int nn_container_check_header_crc(const uint8_t *buf, const char *kind, const char *rebuild, nn_error *err) {
    uint32_t hcrc = nn_crc32(0, buf, NN_CONTAINER_HEADER_CRC);
    if (hcrc != nn_rd32(buf + NN_CONTAINER_HEADER_CRC))
        return nn_fail(err, NN_ERR_CHECKSUM, "%s header checksum is %08x but the header "
                       "says %08x: the file is corrupt; %s", kind, hcrc,
                       nn_rd32(buf + NN_CONTAINER_HEADER_CRC), rebuild);
    return NN_OK;
}

int nn_container_check_payload(const uint8_t *buf, size_t len, const char *kind, const char *rebuild,
                               nn_error *err) {
    uint64_t payload = nn_rd64(buf + NN_CONTAINER_PAYLOAD_LEN), have = len - NN_CONTAINER_HEADER;
    if (payload > have)
        return nn_fail(err, NN_ERR_FORMAT, "%s is truncated: %llu bytes of data after the "
                       "header, but it should have %llu (an interrupted download or copy?); %s",
                       kind, (unsigned long long)have, (unsigned long long)payload, rebuild);
    if (payload < have)
        return nn_fail(err, NN_ERR_FORMAT, "%s has %llu unexpected bytes after its end "
                       "(two files joined?); %s", kind, (unsigned long long)(have - payload), rebuild);
    uint32_t pcrc = nn_crc32(0, buf + NN_CONTAINER_HEADER, (size_t)payload);
    if (pcrc != nn_rd32(buf + NN_CONTAINER_PAYLOAD_CRC))
        return nn_fail(err, NN_ERR_CHECKSUM, "%s data checksum is %08x but the header says "
                       "%08x: the file is corrupt; %s", kind, pcrc,
                       nn_rd32(buf + NN_CONTAINER_PAYLOAD_CRC), rebuild);
    return NN_OK;
}

void nn_container_seal(uint8_t *buf, uint64_t payload) {
    nn_wr64(buf + NN_CONTAINER_PAYLOAD_LEN, payload);
    nn_wr32(buf + NN_CONTAINER_PAYLOAD_CRC, nn_crc32(0, buf + NN_CONTAINER_HEADER, (size_t)payload));
    nn_wr32(buf + NN_CONTAINER_HEADER_CRC, nn_crc32(0, buf, NN_CONTAINER_HEADER_CRC));
}

uint8_t *nn_container_put(uint8_t *p, const void *data, uint64_t bytes) {
    if (bytes) memcpy(p, data, (size_t)bytes);
    return p + nn_pad4(bytes);
}
