// Test stub: the few TFLite C types the generated sources and export/mcu_example use, with the
// names and members of the real tensorflow/lite/c/common.h. Compile checks only; never linked.
#ifndef TINYMYO_STUB_TFLITE_C_COMMON_H_
#define TINYMYO_STUB_TFLITE_C_COMMON_H_
#include <cstddef>
#include <cstdint>

typedef enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt32 = 2, kTfLiteInt8 = 9 } TfLiteType;
typedef struct TfLiteQuantizationParams { float scale; int32_t zero_point; } TfLiteQuantizationParams;
typedef union TfLitePtrUnion { int32_t* i32; float* f; int8_t* int8; uint8_t* uint8; void* data; } TfLitePtrUnion;
typedef struct TfLiteTensor {
  TfLiteType type;
  TfLitePtrUnion data;
  TfLiteQuantizationParams params;
  size_t bytes;
} TfLiteTensor;
#endif
