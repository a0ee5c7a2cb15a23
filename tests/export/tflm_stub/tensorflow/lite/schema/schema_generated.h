// Test stub of the flatbuffer schema accessors export/mcu_example uses (tflite::GetModel,
// Model::version, TFLITE_SCHEMA_VERSION). Compile checks only.
#ifndef TINYMYO_STUB_SCHEMA_GENERATED_H_
#define TINYMYO_STUB_SCHEMA_GENERATED_H_
#include <cstdint>
#define TFLITE_SCHEMA_VERSION (3)
namespace tflite {
struct Model {
  uint32_t version() const { return TFLITE_SCHEMA_VERSION; }
};
inline const Model* GetModel(const void* buffer) { return static_cast<const Model*>(buffer); }
}  // namespace tflite
#endif
