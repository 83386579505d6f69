_base_ = [
    './_base_/models/faster-rcnn_sa-r50_fpn_toy.py',
    './_base_/datasets/toy-coco_instance.py',
    './_base_/schedules/toy_schedule_8e.py',
    './_base_/default_runtime.py',
]
