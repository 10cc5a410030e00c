// Node-API functions of the negative-answer table (negative_napi.c).
#ifndef KDNS_NEGATIVE_NAPI_H
#define KDNS_NEGATIVE_NAPI_H

#include <node_api.h>

/** Adds negativeClear, negativeZone, negativeNames and negativeStats to exports. */
void register_negative_api(napi_env env, napi_value exports);

#endif
