#!/usr/bin/env python
"""Full fine-tuning of Lumos-1 with AR-DF (LUMOS_SPEC 5) on a pre-tokenized dataset, with `transformers.Trainer`.

Single process:

    python examples/train_lumos.py --model_name_or_path lumos-1-1b-hf --dataset data/pretokenized-256p \
        --stage image --output_dir runs/stage1 --bf16 --activation_checkpointing \
        --per_device_train_batch_size 4 --max_steps 10000

Several processes or GPUs (DDP, FSDP or DeepSpeed ZeRO: see `examples/accelerate_configs/`):

    accelerate launch --config_file examples/accelerate_configs/fsdp.yaml examples/train_lumos.py ...

`--stage image` trains on single-frame samples (text-to-image), `--stage joint` on images and videos. The optimiser
defaults are the paper's: AdamW, betas (0.9, 0.95), weight decay 0.1, lr 5e-5, gradient clipping 4. Train from
scratch with `--config_name lumos-1-1b` (and `--config_overrides "num_hidden_layers=4,..."`). Resume with
`--resume_from_checkpoint runs/stage1/checkpoint-5000`: masks and CFG drops replay exactly.
"""

from __future__ import annotations

from transformers import HfArgumentParser, Trainer, set_seed

from lumos_hf.training.recipes import (
    DataArguments,
    LumosTrainingArguments,
    ModelArguments,
    build_collator,
    build_model,
    load_training_dataset,
    prepare_stage_dataset,
)


def main(argv: list[str] | None = None) -> Trainer:
    parser = HfArgumentParser((ModelArguments, DataArguments, LumosTrainingArguments))
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    set_seed(training_args.seed)

    model = build_model(model_args)
    model.config.use_cache = False  # no KV cache in training
    dataset = load_training_dataset(data_args.dataset, streaming=data_args.streaming)
    train_dataset = prepare_stage_dataset(
        dataset,
        training_args.stage,
        max_length=data_args.max_length,
        max_samples=data_args.max_train_samples,
        token_layout=model.config.token_layout,
    )
    collator = build_collator(training_args, model.config.token_layout)
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        data_collator=collator,
        callbacks=[collator],  # the collator follows the epochs (resumable masks)
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()
    return trainer


if __name__ == "__main__":
    main()
