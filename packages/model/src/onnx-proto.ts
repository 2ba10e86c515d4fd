import protobuf from 'protobufjs';

/**
 * The subset of the ONNX protobuf schema that a dense network export writes.
 *
 * Field names and numbers follow onnx/onnx.proto3 in the ONNX repository.
 * Fields that the exporter never sets are left out of this schema, which does
 * not change the encoded bytes.
 */
const ONNX_SUBSET_PROTO = `
syntax = "proto3";
package onnx;

message StringStringEntryProto {
  string key = 1;
  string value = 2;
}

message OperatorSetIdProto {
  string domain = 1;
  int64 version = 2;
}

message TensorProto {
  repeated int64 dims = 1;
  int32 data_type = 2;
  string name = 8;
  bytes raw_data = 9;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    int32 elem_type = 1;
    TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message ValueInfoProto {
  string name = 1;
  TypeProto type = 2;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
}

message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message ModelProto {
  int64 ir_version = 1;
  string producer_name = 2;
  string producer_version = 3;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}
`;

const onnxRoot = protobuf.parse(ONNX_SUBSET_PROTO, { keepCase: true }).root;

/** Message type for `onnx.ModelProto`, the top-level message of an .onnx file. */
export const ModelProto = onnxRoot.lookupType('onnx.ModelProto');

/** `TensorProto.DataType.FLOAT` in onnx.proto3: IEEE 754 float32. */
export const ONNX_FLOAT = 1;

/** ONNX IR version written to `ModelProto.ir_version`. ONNX 1.12 pairs IR 8 with opset 17. */
export const ONNX_IR_VERSION = 8;

/** Version of the default ("ai.onnx") operator set that the exported graph imports. */
export const ONNX_OPSET_VERSION = 17;

/** Plain-object shape of `onnx.TensorShapeProto.Dimension`, exactly one field set. */
export type OnnxDimension = { dim_value: number } | { dim_param: string };

/** Plain-object shape of `onnx.TensorProto` as the exporter fills it. */
export interface OnnxTensor {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

/** Plain-object shape of `onnx.NodeProto` as the exporter fills it. */
export interface OnnxNode {
  name: string;
  op_type: string;
  domain: string;
  input: string[];
  output: string[];
}

/** Plain-object shape of `onnx.ValueInfoProto` for a float32 graph input or output. */
export interface OnnxValueInfo {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: OnnxDimension[] } } };
}

/**
 * Encodes a plain object shaped like `onnx.ModelProto` into protobuf bytes.
 *
 * Throws when the object does not fit the schema above, for example a string
 * where an int64 is expected, so a mistake in the builder fails here and not
 * later in a runtime that loads the file.
 */
export function encodeModelProto(model: Record<string, unknown>): Uint8Array {
  const problem = ModelProto.verify(model);
  if (problem !== null) {
    throw new Error(`Invalid ONNX ModelProto: ${problem}`);
  }
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}
