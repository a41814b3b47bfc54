/*
 * thread_stack.c - larger stacks for the server's HTTP threads, in the `sotto` executable.
 *
 * Debian's CivetWeb creates its threads with a fixed 100 KiB stack, and glibc carves each
 * thread's static TLS out of that stack: OpenBLAS alone takes 60 KiB of it, which leaves
 * CivetWeb's own WebSocket handshake (mg_printf) too little under the sanitizers. This
 * definition interposes on the libc call (CivetWeb calls it through its PLT, and the
 * executable's definition comes first in the lookup order) and raises small requested
 * stacks to 1 MiB; larger requests pass unchanged.
 *
 * It lives here, not in libsotto, because a library must not interpose on libc for the
 * application that links it. An application that embeds sotto_server and runs under
 * sanitizers should give CivetWeb larger stacks the same way (docs/server.md).
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#define CLI_MIN_THREAD_STACK ((size_t)1 << 20)

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size)
{
    static int (*real)(pthread_attr_t *, size_t);
    int (*fn)(pthread_attr_t *, size_t) = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (!fn) {
        void *sym = dlsym(RTLD_NEXT, "pthread_attr_setstacksize");
        if (!sym)
            return EINVAL;
        memcpy(&fn, &sym, sizeof fn); /* object to function pointer without a cast warning */
        __atomic_store_n(&real, fn, __ATOMIC_RELEASE);
    }
    return fn(attr, size < CLI_MIN_THREAD_STACK ? CLI_MIN_THREAD_STACK : size);
}
