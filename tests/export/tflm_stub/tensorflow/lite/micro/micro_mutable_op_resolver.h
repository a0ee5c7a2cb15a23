// Test stub of tflite::MicroMutableOpResolver: declares the Add* registration methods of the real
// class (tensorflow/lite/micro/micro_mutable_op_resolver.h) for the builtin ops an export can
// use, so a misspelt or non-existent method in a generated op_resolver.h fails to compile.
#ifndef TINYMYO_STUB_MICRO_MUTABLE_OP_RESOLVER_H_
#define TINYMYO_STUB_MICRO_MUTABLE_OP_RESOLVER_H_
#include "tensorflow/lite/c/common.h"

namespace tflite {
class MicroOpResolver {
 public:
  virtual ~MicroOpResolver() = default;
};

template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  static_assert(tOpCount > 0, "an op resolver needs room for at least one op");
#define TINYMYO_STUB_ADD(name) \
  TfLiteStatus name() { return ++count_ <= tOpCount ? kTfLiteOk : kTfLiteError; }
  TINYMYO_STUB_ADD(AddAbs) TINYMYO_STUB_ADD(AddAdd) TINYMYO_STUB_ADD(AddAddN) TINYMYO_STUB_ADD(AddArgMax)
  TINYMYO_STUB_ADD(AddArgMin) TINYMYO_STUB_ADD(AddAveragePool2D) TINYMYO_STUB_ADD(AddBatchMatMul)
  TINYMYO_STUB_ADD(AddBatchToSpaceNd) TINYMYO_STUB_ADD(AddBroadcastArgs) TINYMYO_STUB_ADD(AddBroadcastTo)
  TINYMYO_STUB_ADD(AddCast) TINYMYO_STUB_ADD(AddCeil) TINYMYO_STUB_ADD(AddConcatenation) TINYMYO_STUB_ADD(AddConv2D)
  TINYMYO_STUB_ADD(AddCos) TINYMYO_STUB_ADD(AddCumSum) TINYMYO_STUB_ADD(AddDepthToSpace)
  TINYMYO_STUB_ADD(AddDepthwiseConv2D) TINYMYO_STUB_ADD(AddDequantize) TINYMYO_STUB_ADD(AddDiv)
  TINYMYO_STUB_ADD(AddElu) TINYMYO_STUB_ADD(AddEqual) TINYMYO_STUB_ADD(AddExp) TINYMYO_STUB_ADD(AddExpandDims)
  TINYMYO_STUB_ADD(AddFill) TINYMYO_STUB_ADD(AddFloor) TINYMYO_STUB_ADD(AddFloorDiv) TINYMYO_STUB_ADD(AddFloorMod)
  TINYMYO_STUB_ADD(AddFullyConnected) TINYMYO_STUB_ADD(AddGather) TINYMYO_STUB_ADD(AddGatherNd)
  TINYMYO_STUB_ADD(AddGreater) TINYMYO_STUB_ADD(AddGreaterEqual) TINYMYO_STUB_ADD(AddHardSwish)
  TINYMYO_STUB_ADD(AddL2Normalization) TINYMYO_STUB_ADD(AddLeakyRelu) TINYMYO_STUB_ADD(AddLess)
  TINYMYO_STUB_ADD(AddLessEqual) TINYMYO_STUB_ADD(AddLog) TINYMYO_STUB_ADD(AddLogSoftmax)
  TINYMYO_STUB_ADD(AddLogicalAnd) TINYMYO_STUB_ADD(AddLogicalNot) TINYMYO_STUB_ADD(AddLogicalOr)
  TINYMYO_STUB_ADD(AddLogistic) TINYMYO_STUB_ADD(AddMaxPool2D) TINYMYO_STUB_ADD(AddMaximum) TINYMYO_STUB_ADD(AddMean)
  TINYMYO_STUB_ADD(AddMinimum) TINYMYO_STUB_ADD(AddMirrorPad) TINYMYO_STUB_ADD(AddMul) TINYMYO_STUB_ADD(AddNeg)
  TINYMYO_STUB_ADD(AddNotEqual) TINYMYO_STUB_ADD(AddPack) TINYMYO_STUB_ADD(AddPad) TINYMYO_STUB_ADD(AddPadV2)
  TINYMYO_STUB_ADD(AddPrelu) TINYMYO_STUB_ADD(AddQuantize) TINYMYO_STUB_ADD(AddReduceMax)
  TINYMYO_STUB_ADD(AddReduceMin) TINYMYO_STUB_ADD(AddRelu) TINYMYO_STUB_ADD(AddRelu6) TINYMYO_STUB_ADD(AddReshape)
  TINYMYO_STUB_ADD(AddResizeBilinear) TINYMYO_STUB_ADD(AddResizeNearestNeighbor) TINYMYO_STUB_ADD(AddRound)
  TINYMYO_STUB_ADD(AddRsqrt) TINYMYO_STUB_ADD(AddSelectV2) TINYMYO_STUB_ADD(AddShape) TINYMYO_STUB_ADD(AddSin)
  TINYMYO_STUB_ADD(AddSlice) TINYMYO_STUB_ADD(AddSoftmax) TINYMYO_STUB_ADD(AddSpaceToBatchNd)
  TINYMYO_STUB_ADD(AddSpaceToDepth) TINYMYO_STUB_ADD(AddSplit) TINYMYO_STUB_ADD(AddSplitV) TINYMYO_STUB_ADD(AddSqrt)
  TINYMYO_STUB_ADD(AddSquare) TINYMYO_STUB_ADD(AddSquaredDifference) TINYMYO_STUB_ADD(AddSqueeze)
  TINYMYO_STUB_ADD(AddStridedSlice) TINYMYO_STUB_ADD(AddSub) TINYMYO_STUB_ADD(AddSum) TINYMYO_STUB_ADD(AddSvdf)
  TINYMYO_STUB_ADD(AddTanh) TINYMYO_STUB_ADD(AddTranspose) TINYMYO_STUB_ADD(AddTransposeConv)
  TINYMYO_STUB_ADD(AddUnpack) TINYMYO_STUB_ADD(AddZerosLike)
#undef TINYMYO_STUB_ADD
  unsigned int registered() const { return count_; }

 private:
  unsigned int count_ = 0;
};
}  // namespace tflite
#endif
