// Test stub of tflite::MicroInterpreter: the constructor and methods export/mcu_example uses,
// with the real class's signatures. It runs no model: its one tensor is a zeroed buffer, so a
// linked example runs through its control flow (input fill, output read).
#ifndef TINYMYO_STUB_MICRO_INTERPRETER_H_
#define TINYMYO_STUB_MICRO_INTERPRETER_H_
#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace tflite {
class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver, uint8_t* tensor_arena,
                   size_t tensor_arena_size)
      : arena_size_(tensor_arena_size) {
    (void)model, (void)op_resolver, (void)tensor_arena;
    tensor_.data.data = buffer_;
    tensor_.bytes = sizeof(buffer_);
  }
  TfLiteStatus AllocateTensors() { return kTfLiteOk; }
  TfLiteStatus Invoke() { return kTfLiteOk; }
  TfLiteTensor* input(size_t index) { (void)index; return &tensor_; }
  TfLiteTensor* output(size_t index) { (void)index; return &tensor_; }
  size_t arena_used_bytes() const { return arena_size_; }

 private:
  size_t arena_size_;
  TfLiteTensor tensor_{};
  alignas(16) static inline uint8_t buffer_[1 << 20] = {};
};
}  // namespace tflite
#endif
