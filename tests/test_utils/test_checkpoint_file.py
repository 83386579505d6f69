"""Unreadable checkpoint files are named with what is wrong; outputs are written all or nothing."""

import builtins
import os
import pickle

import numpy as np
import pytest
import torch

from sa_mmdet.utils import (
    CheckpointFileError,
    check_output_path,
    checkpoint_file_errors,
    read_checkpoint,
    save_atomically,
    write_atomically,
)


def test_unreadable_files_are_named_with_what_is_wrong(unreadable_checkpoint):
    path, words = unreadable_checkpoint
    with pytest.raises(CheckpointFileError, match=words) as error:
        read_checkpoint(str(path))
    assert repr(str(path)) in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth' does not exist"):
        read_checkpoint(str(tmp_path / 'nope.pth'))


def test_file_without_read_permission(tmp_path, monkeypatch):
    path = tmp_path / 'locked.pth'
    torch.save({'w': torch.ones(1)}, path)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: deny the open itself
        real_open = builtins.open

        def denying_open(file, *args, **kwargs):
            if str(file) == str(path):
                raise PermissionError(13, 'Permission denied', str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, 'open', denying_open)
    with pytest.raises(CheckpointFileError, match='cannot be opened .*check its permissions'):
        read_checkpoint(str(path))


def test_truncated_legacy_format(tmp_path):
    path = tmp_path / 'legacy.pth'
    torch.save({'w': torch.ones(100)}, path, _use_new_zipfile_serialization=False)
    assert read_checkpoint(str(path))['w'].sum() == 100  # the old format still loads
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointFileError, match='is damaged or truncated'):
        read_checkpoint(str(path))


def test_weights_only_refusal_says_what_was_needed_and_how_to_resave(tmp_path):
    path = tmp_path / 'numpy.pth'
    torch.save({'meta': np.ones(2)}, path)
    with pytest.raises(pickle.UnpicklingError) as error:
        read_checkpoint(str(path))
    message = str(error.value)
    assert 'it needs numpy' in message and 'nothing in the file was run' in message
    assert 'resave_checkpoint.py' in message and 'add_safe_globals' not in message


def test_errors_of_the_code_using_a_good_file_pass_unchanged(tmp_path):
    path = tmp_path / 'good.pth'
    torch.save({'w': torch.ones(1)}, path)
    with pytest.raises(KeyError, match='state_dict'):
        with checkpoint_file_errors(str(path)):
            torch.load(path)['state_dict']


def test_write_atomically_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / 'ckpt.pth'
    save_atomically({'w': torch.zeros(3)}, str(path))

    def fails_midway(f):
        f.write(b'PK\x03\x04 half of a checkpoint')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(str(path), fails_midway)
    assert torch.load(path)['w'].tolist() == [0.0, 0.0, 0.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ckpt.pth']  # no temporary left


def test_output_that_is_the_input_is_refused(tmp_path, same_file_as):
    src = tmp_path / 'src.pth'
    src.write_bytes(b'weights')
    with pytest.raises(ValueError, match='is the input'):
        check_output_path(str(src), str(same_file_as(src)))


def test_output_folder_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="give a file name in it, e.g. '.*src.pth'"):
        check_output_path(str(tmp_path / 'src.pth'), str(tmp_path))
