{
  "targets": [
    {
      "target_name": "portwake_splice",
      "sources": ["src/native/splice.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [["OS!='linux'", {"type": "none", "sources!": ["src/native/splice.c"]}]]
    }
  ]
}
