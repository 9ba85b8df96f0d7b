{
  "targets": [
    {
      "target_name": "portwake_native",
      "sources": ["src/native/addon.c", "src/native/conn.c", "src/native/conn-js.c", "src/native/listener.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [["OS!='linux'", {"type": "none", "sources!": ["src/native/addon.c", "src/native/conn.c", "src/native/conn-js.c", "src/native/listener.c"]}]]
    }
  ]
}
