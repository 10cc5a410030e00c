{
  "targets": [
    {
      "target_name": "kdns_native",
      "sources": ["kdns_native.c", "answer_cache.c", "answer_cache_napi.c", "negative.c", "epoch.c", "negative_napi.c", "takeover.c", "observe.c", "views.c", "views_napi.c", "napi_glue.c", "upstream.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='mac'", { "xcode_settings": { "OTHER_CFLAGS": ["-std=gnu11", "-O2", "-Wall"] } }]
      ]
    }
  ]
}
