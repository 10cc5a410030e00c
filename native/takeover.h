// Node-API functions of the takeover hand-off channel (takeover.c).
#ifndef KDNS_TAKEOVER_H
#define KDNS_TAKEOVER_H

#include <node_api.h>

/** Adds handoffListen, sendFds and receiveFds to exports. */
void register_takeover_api(napi_env env, napi_value exports);

#endif
