/* sockread.h — reads what a plaintext socket holds into a bufferevent's input in large pieces.
 *
 * libevent 2.1's evbuffer_read caps every read at 4 KiB (EVBUFFER_MAX_READ) whatever
 * bufferevent_set_max_single_read says, so a 130 KiB PutRecords body costs 32 epoll turns,
 * 32 FIONREAD ioctls and 32 readv calls. Called at the top of a read callback, this takes the
 * rest in up to 64 KiB readv calls. EOF and errors are left for libevent's next read, which
 * reports them as usual (a closed socket stays readable).
 *
 * For bufferevent_socket_new bufferevents only (not TLS filters).
 * Thread: the bufferevent's loop thread. Used by server/conn.c and loadtest/hclient.c. */
#ifndef SC_SERVER_SOCKREAD_H
#define SC_SERVER_SOCKREAD_H

#include <stddef.h>

struct bufferevent;

/* Reads until the socket is empty or the input holds `max` bytes; returns the bytes read. */
size_t sockread_fill(struct bufferevent *bev, size_t max);

#endif
