// Minimal TFLite Micro harness for a `tinymyo export` model: runs one EMG window and checks the
// result against what the host produced. Build it inside a TFLite Micro project (see
// export/README.md): copy model_data.h, model_data.cc, op_resolver.h and sample_window.h from
// the export directory next to this file.
//
// What it shows: the model array, the generated resolver (exactly the model's ops), the measured
// arena size, input quantisation, one Invoke(), output dequantisation and argmax.

#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "model_data.h"
#include "op_resolver.h"
#include "sample_window.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

// The arena holds every activation tensor and the interpreter's bookkeeping. Its size is the
// one `tinymyo export` measured with TFLM (plus a margin), so AllocateTensors() fits exactly.
alignas(16) uint8_t tensor_arena[tinymyo::kTensorArenaBytes];

// Quantise one float sample (z-scored EMG, the units the model was trained on) to the input type.
inline tinymyo::InputType QuantizeSample(float x) {
  if constexpr (tinymyo::kModelIsInt8) {
    const int q = static_cast<int>(std::lround(x / tinymyo::kInputScale)) + tinymyo::kInputZeroPoint;
    return static_cast<tinymyo::InputType>(q < -128 ? -128 : (q > 127 ? 127 : q));
  } else {
    return x;
  }
}

}  // namespace

int main() {
  tflite::InitializeTarget();

  const tflite::Model* model = tflite::GetModel(tinymyo::kModelData);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    MicroPrintf("model schema %d, this TFLM expects %d", static_cast<int>(model->version()), TFLITE_SCHEMA_VERSION);
    return 1;
  }

  static tinymyo::OpResolver resolver;
  if (tinymyo::RegisterOps(resolver) != kTfLiteOk) {
    MicroPrintf("registering the model's ops failed");
    return 1;
  }

  static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, tinymyo::kTensorArenaBytes);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    MicroPrintf("AllocateTensors() failed: arena too small or an op kernel missing");
    return 1;
  }
  MicroPrintf("arena: %d bytes used of %d reserved", static_cast<int>(interpreter.arena_used_bytes()),
              static_cast<int>(tinymyo::kTensorArenaBytes));

  // One window, channel-major (C x T). The sample is already in the model's input type; a live
  // device fills the input from its ADC buffer with QuantizeSample(z-scored sample) instead.
  TfLiteTensor* input = interpreter.input(0);
  for (int i = 0; i < tinymyo::kInputElements; ++i) {
    if constexpr (tinymyo::kModelIsInt8) {
      input->data.int8[i] = tinymyo::kSampleInput[i];
    } else {
      input->data.f[i] = tinymyo::kSampleInput[i];
    }
  }
  (void)QuantizeSample;  // shown for live data; unused with the stored sample

  if (interpreter.Invoke() != kTfLiteOk) {
    MicroPrintf("Invoke() failed");
    return 1;
  }

  // Compare with the host's TFLM output; report the argmax (the class for a classifier).
  const TfLiteTensor* output = interpreter.output(0);
  float worst = 0.0f;
  int best = 0;
  float best_value = -1e30f;
  for (int i = 0; i < tinymyo::kOutputElements; ++i) {
    float value;
    float expected;
    if constexpr (tinymyo::kOutputIsInt8) {
      value = (output->data.int8[i] - tinymyo::kOutputZeroPoint) * tinymyo::kOutputScale;
      expected = (tinymyo::kSampleExpectedOutput[i] - tinymyo::kOutputZeroPoint) * tinymyo::kOutputScale;
    } else {
      value = output->data.f[i];
      expected = tinymyo::kSampleExpectedOutput[i];
    }
    worst = std::fabs(value - expected) > worst ? std::fabs(value - expected) : worst;
    if (value > best_value) {
      best_value = value;
      best = i;
    }
  }
  MicroPrintf("argmax %d (%f); max |device - host| = %f", best, static_cast<double>(best_value), static_cast<double>(worst));
  return 0;
}
