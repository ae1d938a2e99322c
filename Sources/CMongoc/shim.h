// libmongoc and libbson as one Swift module.
#ifndef DEFPI_CMONGOC_SHIM_H
#define DEFPI_CMONGOC_SHIM_H

#include <mongoc/mongoc.h>

#endif
