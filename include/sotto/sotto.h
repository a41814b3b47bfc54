/*
 * sotto.h - the whole public API of libsotto, and its version.
 */
#ifndef SOTTO_SOTTO_H
#define SOTTO_SOTTO_H

#include "sotto/asr.h"
#include "sotto/audio.h"
#include "sotto/buf.h"
#include "sotto/error.h"
#include "sotto/log.h"
#include "sotto/pipeline.h"
#include "sotto/text.h"
#include "sotto/transcript.h"
#include "sotto/vad.h"
#include "sotto/whisper.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0" */
const char *sotto_version(void);

#ifdef __cplusplus
}
#endif
#endif
