// glibc's malloc tuning (malloc_trim), which the Glibc module does not import.
#ifndef DEFPI_CMALLOC_SHIM_H
#define DEFPI_CMALLOC_SHIM_H
#include <malloc.h>
#endif
