#!/usr/bin/env python
"""LoRA fine-tuning of Lumos-1 with AR-DF (PEFT + `transformers.Trainer`) on a pre-tokenized dataset.

    python examples/train_lora.py --model_name_or_path lumos-1-1b-hf --dataset data/pretokenized-384p \
        --output_dir runs/lora --lora_r 16 --bf16 --activation_checkpointing --per_device_train_batch_size 1 \
        --learning_rate 1e-4 --max_steps 2000

The adapter (LoRA on every attention and MLP projection by default) is saved to `--output_dir`. Options:
`--lora_target_modules q_proj,v_proj` (fewer modules), `--trainable_token_indices 9100,9101` (train the input
embeddings of new or repurposed tokens), `--train_embeddings` (the whole input embedding matrix),
`--merge_output_dir DIR` (also save the base model with the adapter merged in). Use the adapter with
`lumos_hf.training.lora.load_lora_adapter(model, DIR)` or `load_lora_into_pipeline(pipeline, DIR)`.
Runs under `accelerate launch` like `train_lumos.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import HfArgumentParser, Trainer, set_seed

from lumos_hf.training.lora import add_lora_adapter, count_trainable_parameters, merge_lora_adapter
from lumos_hf.training.recipes import (
    DataArguments,
    LumosTrainingArguments,
    ModelArguments,
    build_collator,
    build_model,
    load_training_dataset,
    prepare_stage_dataset,
)


@dataclass
class LoraArguments:
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int | None = field(default=None, metadata={"help": "LoRA alpha (default: the rank)"})
    lora_dropout: float = field(default=0.0, metadata={"help": "dropout on the LoRA branch"})
    lora_target_modules: str | None = field(
        default=None, metadata={"help": "comma-separated module names (default: q,k,v,o,gate,up,down projections)"}
    )
    trainable_token_indices: str | None = field(
        default=None, metadata={"help": "comma-separated token ids whose input embeddings train (new tokens)"}
    )
    train_embeddings: bool = field(default=False, metadata={"help": "train the whole input embedding matrix"})
    merge_output_dir: str | None = field(
        default=None, metadata={"help": "also save the model with the adapter merged in to this folder"}
    )


def _split(value: str | None) -> list[str] | None:
    return [item.strip() for item in value.split(",") if item.strip()] if value else None


def main(argv: list[str] | None = None) -> Trainer:
    parser = HfArgumentParser((ModelArguments, DataArguments, LumosTrainingArguments, LoraArguments))
    model_args, data_args, training_args, lora_args = parser.parse_args_into_dataclasses(args=argv)
    set_seed(training_args.seed)

    model = build_model(model_args)
    model.config.use_cache = False
    token_layout = model.config.token_layout
    token_indices = _split(lora_args.trainable_token_indices)
    model = add_lora_adapter(
        model,
        r=lora_args.lora_r,
        lora_alpha=lora_args.lora_alpha,
        lora_dropout=lora_args.lora_dropout,
        target_modules=_split(lora_args.lora_target_modules),
        trainable_token_indices=[int(i) for i in token_indices] if token_indices else None,
        train_embeddings=lora_args.train_embeddings,
    )
    trainable, total = count_trainable_parameters(model)
    print(f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / total:.3f}%)")

    dataset = load_training_dataset(data_args.dataset, streaming=data_args.streaming)
    train_dataset = prepare_stage_dataset(
        dataset, training_args.stage, max_length=data_args.max_length, max_samples=data_args.max_train_samples
    )
    collator = build_collator(training_args, token_layout)
    trainer = Trainer(
        model=model, args=training_args, train_dataset=train_dataset, data_collator=collator, callbacks=[collator]
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()  # the adapter only: adapter_config.json + adapter_model.safetensors
    if lora_args.merge_output_dir is not None and trainer.is_world_process_zero():
        merge_lora_adapter(trainer.model).save_pretrained(lora_args.merge_output_dir)
    return trainer


if __name__ == "__main__":
    main()
