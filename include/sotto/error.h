/*
 * error.h - sotto's error codes and per-thread error messages.
 *
 * Every fallible function in libsotto returns an int: 0 on success or a negative
 * SOTTO_E* code. When it fails it also leaves a one-line, human-readable message for
 * the calling thread (sotto_last_error()) that names what went wrong and, where it
 * helps, what to do about it. Messages never contain stack traces.
 */
#ifndef SOTTO_ERROR_H
#define SOTTO_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SOTTO_OK = 0,
    SOTTO_EINVAL = -1,    /* bad argument or option value */
    SOTTO_ENOMEM = -2,    /* out of memory, or a buffer hit its hard cap */
    SOTTO_EIO = -3,       /* read/write failure of a file or socket */
    SOTTO_ENOENT = -4,    /* file, model or record does not exist */
    SOTTO_EACCES = -5,    /* permission denied */
    SOTTO_EFORMAT = -6,   /* input bytes are malformed (audio, model file, JSON ...) */
    SOTTO_ENOTSUP = -7,   /* valid but unsupported (codec, model type, feature) */
    SOTTO_ENOAUDIO = -8,  /* container has no audio stream */
    SOTTO_EBACKEND = -9,  /* a recognizer or other backend failed internally */
    SOTTO_EUNAVAIL = -10, /* a backend or resource is not available in this build/host */
    SOTTO_ECANCELED = -11 /* work was cancelled by the caller */
};

/* Static name of an error code, e.g. "malformed input". Never NULL. */
const char *sotto_strerror(int code);

/* The message of the last error set on this thread ("" when none). The pointer stays
 * valid until the next failing call on the same thread. */
const char *sotto_last_error(void);

/* Forget the current thread's error message. */
void sotto_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
