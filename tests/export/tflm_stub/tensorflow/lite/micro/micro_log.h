// Test stub of MicroPrintf (tensorflow/lite/micro/micro_log.h).
#ifndef TINYMYO_STUB_MICRO_LOG_H_
#define TINYMYO_STUB_MICRO_LOG_H_
#include <cstdio>
template <typename... Args>
void MicroPrintf(const char* format, Args... args) {
  std::printf(format, args...);
  std::printf("\n");
}
#endif
