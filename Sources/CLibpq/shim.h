/* libpq, PostgreSQL's C client, for Swift (users, limits and sessions of a Ferry cluster). */
#ifndef FERRY_CLIBPQ_SHIM_H
#define FERRY_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
