"""Evaluation metrics (pure numpy): AIST++ features, FID/Div, BAS, PFC, FGD, skating, magnitude, Pen. rate, reports."""
from dance_rl.eval.bas import beat_align_score, motion_bas, music_beats
from dance_rl.eval.features import aist_frame, motion_features
from dance_rl.eval.fid import average_pairwise_distance, fid_div, frechet_distance, normalize
from dance_rl.eval.kinetic import extract_kinetic_features
from dance_rl.eval.manual import extract_manual_features
from dance_rl.eval.physical import fgd, foot_skating_ratio, motion_magnitude, pfc

__all__ = ["aist_frame", "average_pairwise_distance", "beat_align_score", "extract_kinetic_features",
           "extract_manual_features", "fgd", "fid_div", "foot_skating_ratio", "frechet_distance", "motion_bas",
           "motion_features", "motion_magnitude", "music_beats", "normalize", "pfc"]
