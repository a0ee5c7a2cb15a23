"""Export to TFLite and TFLite Micro: float32 and full-integer int8 models, C sources, reports.

Modules, one job each (nothing here is imported eagerly; the interpreter worker must start
without JAX or TensorFlow):
  numerics       GELU / LayerNorm / RoPE forms that TFLite Micro runs and int8 survives
  export_form    the training model rewritten in those forms (constants folded), and the
                 training model itself as the reference
  convert        jax2tf -> tf.function -> TFLiteConverter, float32 and int8
  tflite_file    read a .tflite without running it: ops, tensor types, sizes, integer-only check
  interpreters   LiteRT and TFLM runs, arena measurement, per-layer errors, in child processes
  worker         the child process those run in
  c_source       model_data.h/.cc, op_resolver.h, sample_window.h
  quality        output comparisons and task metrics
  windows        calibration / evaluation windows from prepared splits or synthetic
  pipeline       export_model / export_checkpoint / export_for_demo: all of it, measured
"""
