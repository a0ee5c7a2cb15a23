// Test stub of tflite::InitializeTarget (tensorflow/lite/micro/system_setup.h).
#ifndef TINYMYO_STUB_SYSTEM_SETUP_H_
#define TINYMYO_STUB_SYSTEM_SETUP_H_
namespace tflite {
inline void InitializeTarget() {}
}  // namespace tflite
#endif
