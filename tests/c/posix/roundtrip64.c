/* roundtrip64: roundtrip.c built with _FILE_OFFSET_BITS=64, so that <aio.h> redirects
 * aio_read, aio_write, aio_error, aio_return, aio_suspend, ... to their 64 twins. */
#define _FILE_OFFSET_BITS 64
#define RT_NAME "roundtrip64"
#include "roundtrip.c"
