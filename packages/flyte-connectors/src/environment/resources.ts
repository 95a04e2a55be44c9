import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type ExtendedResources,
  ExtendedResourcesSchema,
  GPUAccelerator_DeviceClass,
  type Resources as ResourcesProto,
  Resources_ResourceName,
  ResourcesSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";

/** A CPU amount: cores as a number (`0.5`) or a Kubernetes quantity (`"500m"`). */
export type CpuQuantity = number | string;

/** The accelerator family of a {@link Device}, as Python's `DeviceClass`. */
export type DeviceClass = "GPU" | "TPU" | "NEURON" | "AMD_GPU" | "HABANA_GAUDI";

/** An accelerator request with a type and partition, as Python's `flyte.Device` (`GPU(...)`, `TPU(...)`). */
export interface Device {
  /** How many devices. */
  readonly quantity: number;
  /** Accelerator family. Default: "GPU". */
  readonly deviceClass?: DeviceClass;
  /** Device type, e.g. "T4", "A100", "V5P"; well-known names are mapped to node labels as Python does. */
  readonly device?: string;
  /** Partition, e.g. "1g.5gb" (MIG) or "2x2" (TPU). */
  readonly partition?: string;
}

/**
 * Compute resources of a task, as Python's `flyte.Resources`. A pair `[request, limit]` sets both; a single
 * value is a request only.
 */
export interface Resources {
  /** CPU cores: `1`, `0.5`, `"500m"`, or `[request, limit]`. */
  readonly cpu?: CpuQuantity | readonly [CpuQuantity, CpuQuantity];
  /** Memory in Kubernetes units: `"512Mi"`, or `[request, limit]`. */
  readonly memory?: string | readonly [string, string];
  /** Accelerators: a GPU count (`1`), `"<type>:<count>"` (`"T4:1"`, `"A100:2"`), or a {@link Device}. */
  readonly gpu?: number | string | Device;
  /** Ephemeral disk in Kubernetes units, e.g. `"10Gi"`. */
  readonly disk?: string;
  /** Shared memory (`/dev/shm`) size, or `"auto"` for the node's maximum. */
  readonly shm?: string;
}

// Node label values of well-known accelerator names (flyte-sdk resources_serde.ACCELERATOR_DEVICE_MAP).
const ACCELERATOR_LABELS: Readonly<Record<string, string>> = {
  A100: "nvidia-tesla-a100",
  "A100 80G": "nvidia-a100-80gb",
  H100: "nvidia-tesla-h100",
  A10: "nvidia-a10",
  A10G: "nvidia-a10g",
  A100G: "nvidia-a100g",
  L4: "nvidia-l4",
  L40s: "nvidia-l40s",
  L4_VWS: "nvidia-l4-vws",
  K80: "nvidia-tesla-k80",
  M60: "nvidia-tesla-m60",
  P4: "nvidia-tesla-p4",
  P100: "nvidia-tesla-p100",
  T4: "nvidia-tesla-t4",
  V100: "nvidia-tesla-v100",
  V5E: "tpu-v5-lite-podslice",
  V5P: "tpu-v5p-slice",
  V6E: "tpu-v6e-slice",
};

const DEVICE_CLASS_PROTO: Readonly<Record<DeviceClass, GPUAccelerator_DeviceClass>> = {
  GPU: GPUAccelerator_DeviceClass.NVIDIA_GPU,
  TPU: GPUAccelerator_DeviceClass.GOOGLE_TPU,
  NEURON: GPUAccelerator_DeviceClass.AMAZON_NEURON,
  AMD_GPU: GPUAccelerator_DeviceClass.AMD_GPU,
  HABANA_GAUDI: GPUAccelerator_DeviceClass.HABANA_GAUDI,
};

// Device type names of each family other than GPU (flyte-sdk _resources.py TPUType, NeuronType, AMD_GPUType,
// HABANA_GAUDIType; V5E too, which ACCELERATOR_DEVICE_MAP labels as a TPU). Any other name is a GPU, as
// GPUType's names are: a prefix test would take "V100" for a TPU.
const DEVICE_CLASS_OF_TYPE: Readonly<Record<string, DeviceClass>> = {
  V5E: "TPU",
  V5P: "TPU",
  V6E: "TPU",
  Inf1: "NEURON",
  Inf2: "NEURON",
  Trn1: "NEURON",
  Trn1n: "NEURON",
  Trn2: "NEURON",
  Trn2u: "NEURON",
  MI100: "AMD_GPU",
  MI210: "AMD_GPU",
  MI250: "AMD_GPU",
  MI250X: "AMD_GPU",
  MI300A: "AMD_GPU",
  MI300X: "AMD_GPU",
  MI325X: "AMD_GPU",
  MI350X: "AMD_GPU",
  MI355X: "AMD_GPU",
  Gaudi1: "HABANA_GAUDI",
};

/** The family of a device type name in a `"<type>:<count>"` string (Python's `Resources.get_device`). */
function deviceClassOf(device: string): DeviceClass {
  return DEVICE_CLASS_OF_TYPE[device] ?? "GPU";
}

function deviceOf(gpu: Resources["gpu"]): Device | undefined {
  if (gpu === undefined) return undefined;
  if (typeof gpu === "number") {
    if (!Number.isInteger(gpu) || gpu < 0) throw new TypeError(`resources.gpu must be a whole number >= 0, got ${gpu}.`);
    return { quantity: gpu, deviceClass: "GPU" };
  }
  if (typeof gpu === "string") {
    const match = /^([^:]+):(\d+)$/.exec(gpu);
    if (!match) throw new TypeError(`resources.gpu must look like "T4:1" (type:count), got "${gpu}".`);
    const device = match[1]!;
    const quantity = Number(match[2]);
    // Python's Device rejects a count of 0 ("GPU quantity must be at least 1").
    if (quantity < 1) throw new TypeError(`resources.gpu "${gpu}": the count must be at least 1.`);
    return { device, quantity, deviceClass: deviceClassOf(device) };
  }
  if (typeof gpu !== "object" || gpu === null || !Number.isInteger(gpu.quantity) || gpu.quantity < 1) {
    throw new TypeError(`resources.gpu: a Device needs a whole quantity >= 1, got ${JSON.stringify(gpu?.quantity)}.`);
  }
  return gpu;
}

function pair<T>(value: T | readonly [T, T] | undefined): [T | undefined, T | undefined] {
  if (value === undefined) return [undefined, undefined];
  if (Array.isArray(value)) {
    if (value.length !== 2) throw new TypeError(`a resource range must be [request, limit], got ${value.length} values.`);
    return [value[0] as T, value[1] as T];
  }
  return [value as T, undefined];
}

function cpuText(cpu: CpuQuantity): string {
  if (typeof cpu === "number" && !(cpu >= 0)) throw new TypeError(`resources.cpu must be >= 0, got ${cpu}.`);
  return String(cpu);
}

type Entry = MessageInitShape<typeof ResourcesSchema>["requests"] extends (infer E)[] | undefined ? E : never;

/** `core.Resources` as flyte-sdk's `get_proto_resources`: requests, then limits for ranges; unset when empty. */
export function resourcesToProto(resources: Resources | undefined): ResourcesProto | undefined {
  if (!resources) return undefined;
  const requests: Entry[] = [];
  const limits: Entry[] = [];
  const [cpuRequest, cpuLimit] = pair(resources.cpu);
  if (cpuRequest !== undefined) requests.push({ name: Resources_ResourceName.CPU, value: cpuText(cpuRequest) });
  if (cpuLimit !== undefined) limits.push({ name: Resources_ResourceName.CPU, value: cpuText(cpuLimit) });
  const [memoryRequest, memoryLimit] = pair(resources.memory);
  if (memoryRequest !== undefined) requests.push({ name: Resources_ResourceName.MEMORY, value: memoryRequest });
  if (memoryLimit !== undefined) limits.push({ name: Resources_ResourceName.MEMORY, value: memoryLimit });
  const device = deviceOf(resources.gpu);
  if (device) requests.push({ name: Resources_ResourceName.GPU, value: String(device.quantity) });
  if (resources.disk !== undefined) requests.push({ name: Resources_ResourceName.EPHEMERAL_STORAGE, value: resources.disk });
  if (requests.length === 0 && limits.length === 0) return undefined;
  return create(ResourcesSchema, { requests, limits });
}

/**
 * `TaskTemplate.extended_resources` as flyte-sdk's `get_proto_extended_resources`: the accelerator when its
 * type is named (not for a bare count), and shared memory; unset when neither.
 */
export function extendedResourcesToProto(resources: Resources | undefined): ExtendedResources | undefined {
  if (!resources) return undefined;
  const device = typeof resources.gpu === "number" ? undefined : deviceOf(resources.gpu);
  if (device && device.device === undefined) throw new TypeError("resources.gpu: a Device needs a device type (e.g. \"A100\").");
  const gpuAccelerator = device
    ? {
        device: ACCELERATOR_LABELS[device.device!] ?? device.device!,
        ...(device.partition ? { partitionSizeValue: { case: "partitionSize" as const, value: device.partition } } : {}),
        deviceClass: DEVICE_CLASS_PROTO[device.deviceClass ?? "GPU"],
      }
    : undefined;
  // "auto" is sent as an empty size limit: the node's maximum.
  const shm = resources.shm === undefined ? undefined : resources.shm === "auto" ? "" : resources.shm;
  if (!gpuAccelerator && shm === undefined) return undefined;
  return create(ExtendedResourcesSchema, {
    ...(gpuAccelerator ? { gpuAccelerator } : {}),
    ...(shm !== undefined ? { sharedMemory: { mountPath: "/dev/shm", mountName: "flyte-shm", sizeLimit: shm } } : {}),
  });
}
