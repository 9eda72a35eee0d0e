/* libevent for Swift. The glibc headers come first: event2/event-config.h defines _GNU_SOURCE,
   which changes glibc's structs (fd_set) and clashes with other modules that saw them without it. */
#ifndef FERRY_CLIBEVENT_SHIM_H
#define FERRY_CLIBEVENT_SHIM_H
#include <sys/types.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <signal.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <event2/util.h>
#endif
